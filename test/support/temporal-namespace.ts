/**
 * A Temporal namespace of a test's own on the shared test server, so that other test files' jobs do
 * not show up in what it reads (the scaler tests count backlog and running jobs), with vldm's job
 * search attributes registered as `vldm dev up` registers them on the default namespace.
 */
import { Client, type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../../src/common/names';
import { INDEXED_VALUE_TYPES, type SearchAttributeType } from '../../src/dev/server-types';
import { observeTemporal } from '../../src/scaling/temporal';

/**
 * Registers `namespace`, waits until it answers (task-queue stats included), adds the search attributes
 * (all of vldm's unless told which: a test of a namespace that lacks some).
 */
export async function registerTestNamespace(
  connection: Connection,
  namespace: string,
  attributes: Record<string, SearchAttributeType> = SEARCH_ATTRIBUTES,
): Promise<Client> {
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  const client = new Client({ connection, namespace });
  // A new namespace reaches every frontend cache within seconds; until then calls in it fail.
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await client.workflowService.describeNamespace({ namespace });
      await observeTemporal(client, namespace, ['orchestration']);
      break;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (Object.keys(attributes).length > 0)
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        Object.entries(attributes).map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]]),
      ),
    });
  return client;
}
