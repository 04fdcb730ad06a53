/**
 * vldm's search attributes (names and types: names.ts SEARCH_ATTRIBUTES) as typed keys, for the
 * client that starts jobs and the workflows that start their children, and what a child carries:
 * `VldmJob` always, `VldmSegment` or `VldmChapter` for the child's place in the job.
 *
 * Children carry them only when their parent does. A namespace without vldm's attributes still runs
 * jobs (src/client/jobs.ts starts those without them), and a start command naming an unregistered
 * attribute would fail the parent's workflow task again and again, so the parent's own attributes say
 * whether the namespace has them; a workflow worker refuses to start on a namespace that has the
 * job's attributes but not the children's (src/worker/search-attributes.ts).
 */
import { SearchAttributeType, defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import type { SEARCH_ATTRIBUTES } from './names';

export const SEARCH_ATTRIBUTE_KEYS = {
  VldmJob: defineSearchAttributeKey('VldmJob', SearchAttributeType.KEYWORD),
  VldmScene: defineSearchAttributeKey('VldmScene', SearchAttributeType.KEYWORD),
  VldmDeadline: defineSearchAttributeKey('VldmDeadline', SearchAttributeType.DATETIME),
  VldmSegment: defineSearchAttributeKey('VldmSegment', SearchAttributeType.INT),
  VldmChapter: defineSearchAttributeKey('VldmChapter', SearchAttributeType.INT),
} as const satisfies Record<keyof typeof SEARCH_ATTRIBUTES, unknown>;

/** The `patched()` marker of children started with search attributes and static details. */
export const CHILD_SEARCH_ATTRIBUTES_PATCH = 'child-search-attributes';

/** A child's search attributes: its job's id and its segment's or chapter's index. */
export function childSearchAttributes(
  jobId: string,
  place: { segment: number } | { chapter: number },
): SearchAttributePair[] {
  return [
    { key: SEARCH_ATTRIBUTE_KEYS.VldmJob, value: jobId },
    'segment' in place
      ? { key: SEARCH_ATTRIBUTE_KEYS.VldmSegment, value: place.segment }
      : { key: SEARCH_ATTRIBUTE_KEYS.VldmChapter, value: place.chapter },
  ];
}
