/**
 * What a job's child workflow carries for people and the Temporal UI: search attributes (its job and
 * its segment or chapter: src/common/search-attributes.ts) and a static summary and details text.
 * Histories from before the `child-search-attributes` patch started children with the summary alone,
 * so they replay as they ran. Attributes go only where the parent has them itself: a namespace
 * without vldm's attributes runs jobs without them, and naming one there would fail the start.
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import {
  CHILD_SEARCH_ATTRIBUTES_PATCH,
  SEARCH_ATTRIBUTE_KEYS,
  childSearchAttributes,
} from '../src/common/search-attributes';

export function childMetadata(
  jobId: string,
  place: { segment: number } | { chapter: number },
  oldSummary: string,
  text: () => { summary: string; details: string },
): { staticSummary: string; staticDetails?: string; typedSearchAttributes?: SearchAttributePair[] } {
  if (!patched(CHILD_SEARCH_ATTRIBUTES_PATCH)) return { staticSummary: oldSummary };
  const { summary, details } = text();
  const tagged = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmJob) !== undefined;
  return {
    staticSummary: summary,
    staticDetails: details,
    ...(tagged ? { typedSearchAttributes: childSearchAttributes(jobId, place) } : {}),
  };
}
