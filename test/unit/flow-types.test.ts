import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ChildrenSummary,
  type Client,
  type FlowStep,
  type JobChild,
  type JobContext,
  type JsonValue,
  defineJob,
  step,
} from '../../src/index.ts';

const fetchPage = defineJob({ name: 'fetch-page', run: (input: { url: string }) => ({ html: input.url, bytes: input.url.length }) });
const count = defineJob({ name: 'count', run: async (n: number) => n + 1 });

// Checked by `tsc` (npm test), never run: each @ts-expect-error line must be a type error, or tsc fails.
export async function childrenAreTypedByTheirJob(ctx: JobContext, client: Client): Promise<void> {
  const pages = await ctx.children(fetchPage);
  expectTypeOf(pages).toEqualTypeOf<Array<JobChild<{ html: string; bytes: number }>>>();
  expectTypeOf(pages[0]!.result).toEqualTypeOf<{ html: string; bytes: number } | null>();
  // @ts-expect-error a page's result has no `size`
  void pages[0]!.result?.size;
  const counts = await ctx.children(count);
  expectTypeOf(counts[0]!.result).toEqualTypeOf<number | null>();
  expectTypeOf(await ctx.children()).toEqualTypeOf<JobChild<JsonValue>[]>();
  expectTypeOf(await ctx.childrenSummary()).toEqualTypeOf<ChildrenSummary>();

  expectTypeOf(step(fetchPage, { url: 'a' })).toEqualTypeOf<FlowStep<{ url: string }, { html: string; bytes: number }>>();
  // @ts-expect-error the payload must match the job's input
  void step(fetchPage, { url: 1 });
  // @ts-expect-error `timout` is no option of a step
  void step(count, 1, { timout: '1s' });
  // @ts-expect-error a policy is one of fail, cancel, ignore, continue
  void step(count, 1, { children: [{ child: 'a', onChildFailure: 'skip' }] });

  const { ids } = await client.flow({ a: step(count, 1), b: step(count, 2, { children: ['a'] }) });
  expectTypeOf(ids).toEqualTypeOf<Record<'a' | 'b', string>>();
  // @ts-expect-error only the flow's own names have ids
  void ids.c;
}

describe('flow types', () => {
  it('the checks above compile (tsc runs them); at run time a step keeps what it was given', () => {
    const built = step(fetchPage, { url: 'https://a' }, { priority: 3, children: ['x'] });
    expect(built).toMatchObject({ job: fetchPage, payload: { url: 'https://a' }, options: { priority: 3, children: ['x'] } });
    expect(Object.isFrozen(built)).toBe(true);
  });
});
