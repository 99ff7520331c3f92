import { describe, expect, it } from 'vitest';
import { shortId } from '../../examples/short-id.ts';
import { newJobId } from '../../src/domain/ids.ts';

describe("the demo's short job ids", () => {
  it('tell apart jobs enqueued in the same millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 1000 }, () => newJobId(now));
    expect(new Set(ids.map(shortId)).size).toBe(ids.length);
  });

  it('are prefixes of the ids, so the CLI and client.get() find the job by them', () => {
    const id = newJobId(Date.now());
    expect(id.startsWith(shortId(id))).toBe(true);
  });
});
