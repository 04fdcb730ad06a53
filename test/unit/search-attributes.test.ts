/** When a workflow worker refuses a namespace's search attributes (src/worker/search-attributes.ts). */
import { describe, expect, it } from 'vitest';
import { JOB_SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTES } from '../../src/common/names';
import { INDEXED_VALUE_TYPES } from '../../src/dev/server-types';
import { childSearchAttributeProblem } from '../../src/worker/search-attributes';

const registered = (attrs: Record<string, keyof typeof INDEXED_VALUE_TYPES>) =>
  Object.fromEntries(Object.entries(attrs).map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]]));

describe('child search attribute check', () => {
  it('accepts a namespace with all of them, or with none (jobs then run without any)', () => {
    expect(childSearchAttributeProblem(registered(SEARCH_ATTRIBUTES), 'ns')).toBeUndefined();
    expect(childSearchAttributeProblem({}, 'ns')).toBeUndefined();
    expect(childSearchAttributeProblem({ SomeoneElses: 2 }, 'ns')).toBeUndefined();
  });

  it("refuses the job's attributes without the children's, with one command per missing attribute", () => {
    expect(childSearchAttributeProblem(registered(JOB_SEARCH_ATTRIBUTES), 'prod')).toBe(
      `namespace "prod" has vldm's job search attributes but not VldmSegment (Int), VldmChapter (Int), ` +
        'which segment and chapter workflows carry; create them, then start the worker again: ' +
        'temporal operator search-attribute create --namespace prod --name VldmSegment --type Int; ' +
        'temporal operator search-attribute create --namespace prod --name VldmChapter --type Int',
    );
  });

  it('refuses a child attribute registered with another type', () => {
    const custom = registered({ ...SEARCH_ATTRIBUTES, VldmSegment: 'Keyword' });
    expect(childSearchAttributeProblem(custom, 'ns')).toMatch(/but not VldmSegment \(Int\), which/);
  });
});
