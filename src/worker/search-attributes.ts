/**
 * The check a workflow worker makes at start (docs/observability.md#search-attributes): a namespace
 * that has vldm's job search attributes must have its children's too. Children carry attributes only
 * where their job does (src/common/search-attributes.ts), so a namespace with none runs jobs without
 * them; but on one with `VldmJob` and without `VldmSegment`, every start of a segment child would fail
 * its parent's workflow task, over and over, so the worker refuses to start and says what to create.
 */
import type { NativeConnection } from '@temporalio/worker';
import { CHILD_SEARCH_ATTRIBUTES, JOB_SEARCH_ATTRIBUTES } from '../common/names';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';
import { INDEXED_VALUE_TYPES, type SearchAttributeType } from '../dev/server-types';

/** The line that refuses a namespace's custom attributes, or undefined when a worker may start on them. */
export function childSearchAttributeProblem(
  custom: Record<string, number | null | undefined>,
  namespace: string,
): string | undefined {
  if (custom.VldmJob !== INDEXED_VALUE_TYPES[JOB_SEARCH_ATTRIBUTES.VldmJob]) return undefined;
  const missing = (Object.entries(CHILD_SEARCH_ATTRIBUTES) as Array<[string, SearchAttributeType]>).filter(
    ([name, type]) => custom[name] !== INDEXED_VALUE_TYPES[type],
  );
  if (missing.length === 0) return undefined;
  // One command per attribute: the Temporal CLI (1.5) pairs each --name with a --type.
  const commands = missing.map(
    ([name, type]) =>
      `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`,
  );
  // The commands last and unquoted, so they can be copied as they are (a namespace that answered has
  // a name of Temporal's restricted alphabet).
  return (
    `namespace ${quote(namespace)} has vldm's job search attributes but not ` +
    `${missing.map(([name, type]) => `${name} (${type})`).join(', ')}, which segment and chapter workflows carry; ` +
    `create them, then start the worker again: ${commands.join('; ')}`
  );
}

/** Refuses (UserError) a namespace with the job's attributes and not the children's; see the header. */
export async function checkSearchAttributes(
  connection: NativeConnection,
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  let custom: Record<string, number | null | undefined>;
  try {
    ({ customAttributes: custom } = await connection.operatorService.listSearchAttributes({ namespace }));
  } catch (err) {
    // An API key may not reach the operator service; then jobs show what is missing in their history.
    log(
      `could not list the search attributes of namespace ${quote(namespace)} (${(err as Error).message}); not checking them`,
    );
    return;
  }
  const problem = childSearchAttributeProblem(custom, namespace);
  if (problem) throw new UserError(problem);
}
