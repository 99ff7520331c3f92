import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { batchNodes, chainNodes, graphNodes, planFlow, step } from '../../src/client/flow-plan.ts';
import { maxFlowJobs } from '../../src/contract/flow-store.ts';
import { defineJob } from '../../src/domain/define-job.ts';
import { InvalidFlowError } from '../../src/domain/errors.ts';
import { MemoryBackend, createClient } from '../../src/index.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';

const now = Date.UTC(2026, 0, 1);
const fetchPage = defineJob({ name: 'fetch-page', schema: z.object({ url: z.string() }), run: ({ url }) => ({ html: url }) });
const merge = defineJob({ name: 'merge', run: () => 'merged' });
const page = (url: string) => step(fetchPage, { url });

/** The InvalidFlowError `promise` rejects with; fails the test otherwise. */
async function refusal(promise: Promise<unknown>): Promise<InvalidFlowError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(InvalidFlowError);
  return error as InvalidFlowError;
}

const planGraph = async (nodes: Parameters<typeof graphNodes>[0]) => planFlow(graphNodes(nodes), now);

describe('planFlow', () => {
  it('builds the flow: ids from the job id generator, dependencies in the order given, payloads as JSON', async () => {
    const { flow, ids } = await planGraph({
      a: page('https://a'),
      b: page('https://b'),
      merge: step(merge, null, { children: ['b', { child: 'a', onChildFailure: 'ignore' }], priority: 5 }),
    });
    expect(flow.flowId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect([...ids.keys()]).toEqual(['a', 'b', 'merge']);
    expect(new Set([flow.flowId, ...ids.values()]).size).toBe(4);
    const [a, b, parent] = flow.jobs;
    expect(a).toMatchObject({ id: ids.get('a'), name: 'fetch-page', payload: '{"url":"https://a"}', key: null, dependsOn: [], runIf: 'always', runAt: now });
    expect(b!.dependsOn).toEqual([]);
    expect(parent).toMatchObject({ name: 'merge', priority: 5, runIf: 'always' });
    expect(parent!.dependsOn).toEqual([
      { childId: ids.get('b'), onChildFailure: 'fail' },
      { childId: ids.get('a'), onChildFailure: 'ignore' },
    ]);
  });

  it('lets a child have several parents, and children have a delay', async () => {
    const { flow, ids } = await planGraph({
      shared: step(fetchPage, { url: 'x' }, { delay: '1m' }),
      left: step(merge, null, { children: ['shared'] }),
      right: step(merge, null, { children: ['shared'] }),
    });
    expect(flow.jobs[0]!.runAt).toBe(now + 60_000);
    expect(flow.jobs.slice(1).map((job) => job.dependsOn)).toEqual([
      [{ childId: ids.get('shared'), onChildFailure: 'fail' }],
      [{ childId: ids.get('shared'), onChildFailure: 'fail' }],
    ]);
  });

  it('refuses a child that is not in the flow, naming both', async () => {
    const error = await refusal(planGraph({ a: page('a'), merge: step(merge, null, { children: ['a', 'missing'] }) }));
    expect(error.reason).toBe('"merge" lists child "missing", which is not in the flow');
    expect(error.code).toBe('INVALID_FLOW');
  });

  it('refuses a cycle, naming it, and a job that waits for itself', async () => {
    const cycle = await refusal(
      planGraph({
        start: page('s'),
        a: step(merge, null, { children: ['start', 'c'] }),
        b: step(merge, null, { children: ['a'] }),
        c: step(merge, null, { children: ['b'] }),
      }),
    );
    expect(cycle.reason).toMatch(/^a cycle: /);
    const names = cycle.details.cycle as string[];
    expect(names.at(0)).toBe(names.at(-1));
    expect(new Set(names)).toEqual(new Set(['a', 'b', 'c']));
    expect(cycle.reason).toContain(names.map((name) => `"${name}"`).join(' waits for '));
    const self = await refusal(planGraph({ a: step(merge, null, { children: ['a'] }) }));
    expect(self.reason).toBe('a cycle: "a" waits for "a"');
  });

  it('finds a cycle at the end of a long chain without deep recursion', async () => {
    const nodes = Array.from({ length: 5000 }, (_, index) => ({ name: `n${index}`, step: step(merge, null), dependsOn: index === 0 ? [{ child: 'n4999', onChildFailure: 'fail' as const }] : [{ child: `n${index - 1}`, onChildFailure: 'fail' as const }], runIf: 'always' as const }));
    const error = await refusal(planFlow(nodes, now));
    expect((error.details.cycle as string[]).length).toBe(5001);
  });

  it('refuses a child listed twice by one parent, and an unknown policy', async () => {
    const twice = await refusal(planGraph({ a: page('a'), merge: step(merge, null, { children: ['a', { child: 'a', onChildFailure: 'ignore' }] }) }));
    expect(twice.reason).toBe('"merge" lists child "a" twice');
    const policy = await refusal(planGraph({ a: page('a'), merge: step(merge, null, { children: [{ child: 'a', onChildFailure: 'skip' as never }] }) }));
    expect(policy.reason).toContain('policy "skip"');
  });

  it('refuses an empty flow, and more jobs than maxFlowJobs before preparing any', async () => {
    expect((await refusal(planGraph({}))).reason).toBe('the flow has no job');
    const tooMany = Array.from({ length: maxFlowJobs + 1 }, (_, index) => ({ name: `n${index}`, step: step(merge, null), dependsOn: [], runIf: 'always' as const }));
    const error = await refusal(planFlow(tooMany, now));
    expect(error.reason).toBe(`the flow has ${maxFlowJobs + 1} jobs, more than the ${maxFlowJobs} one flow may hold`);
  });

  it('refuses a key on any flow job, and a delay or runAt on a job with children', async () => {
    expect((await refusal(planGraph({ a: step(merge, null, { key: 'k' }) }))).reason).toBe('"a" has a key, which a job of a flow cannot have');
    const delayed = await refusal(planGraph({ a: page('a'), b: step(merge, null, { children: ['a'], delay: '1m' }) }));
    expect(delayed.reason).toBe('"b" has children and a delay: a job with children runs when they have finished');
    const at = await refusal(planGraph({ a: page('a'), b: step(merge, null, { children: ['a'], runAt: now + 1000 }) }));
    expect(at.reason).toContain('"b" has children and a runAt');
  });

  it('checks payloads and options as enqueue does, naming the job', async () => {
    const payload = await refusal(planGraph({ good: page('a'), bad: step(fetchPage, { url: 42 } as never) }));
    expect(payload.reason).toMatch(/^"bad": Payload for job "fetch-page" failed its schema/);
    expect(payload.details).toMatchObject({ job: 'bad', code: 'INVALID_PAYLOAD' });
    expect((payload.cause as { code: string }).code).toBe('INVALID_PAYLOAD');
    const option = await refusal(planGraph({ a: step(merge, null, { priority: 5000 }) }));
    expect(option.details).toMatchObject({ job: 'a', code: 'INVALID_OPTION' });
    const unknown = await refusal(planGraph({ a: step(merge, null, { timout: '1s' } as never) }));
    expect(unknown.details).toMatchObject({ job: 'a', code: 'UNKNOWN_OPTION' });
  });

  it('refuses what is not a step', async () => {
    const error = await refusal(planGraph({ a: { job: merge, payload: null, options: {} } as never }));
    expect(error.reason).toBe('"a" is not a step: build each job with step(job, payload, options)');
  });
});

describe('chainNodes and batchNodes', () => {
  it('a chain: each step waits for the one before with policy cancel', async () => {
    const { flow, ids } = await planFlow(chainNodes([page('1'), page('2'), step(merge, null)]), now);
    expect(flow.jobs.map((job) => job.dependsOn)).toEqual([
      [],
      [{ childId: ids.get('step 0'), onChildFailure: 'cancel' }],
      [{ childId: ids.get('step 1'), onChildFailure: 'cancel' }],
    ]);
    expect(() => chainNodes([page('1'), step(merge, null, { children: ['step 0'] })])).toThrow(InvalidFlowError);
    await refusal(planFlow(chainNodes([]), now));
  });

  it('a batch: its callbacks wait for every item, each with its policy and condition', async () => {
    const nodes = batchNodes([page('1'), page('2')], { onComplete: step(merge, 'c'), onSuccess: step(merge, 's'), onFailure: step(merge, 'f') });
    const { flow, ids } = await planFlow(nodes, now);
    const items = [ids.get('item 0'), ids.get('item 1')];
    const callback = (name: string) => flow.jobs.find((job) => job.id === ids.get(name))!;
    expect(callback('onComplete')).toMatchObject({ runIf: 'always', dependsOn: items.map((childId) => ({ childId, onChildFailure: 'ignore' })) });
    expect(callback('onSuccess')).toMatchObject({ runIf: 'always', dependsOn: items.map((childId) => ({ childId, onChildFailure: 'cancel' })) });
    expect(callback('onFailure')).toMatchObject({ runIf: 'any-child-failed', dependsOn: items.map((childId) => ({ childId, onChildFailure: 'ignore' })) });
    expect(() => batchNodes([], { onComplete: step(merge, null) })).toThrow('a batch needs at least one item');
    expect(() => batchNodes([page('1')], { onDone: step(merge, null) } as never)).toThrow('"onDone" is no batch callback');
  });
});

describe('client flows on a backend without capability flows', () => {
  it('refuse with CapabilityUnsupportedError, never a TypeError, and so do ctx.children() and ctx.childrenSummary()', async () => {
    const inner = new MemoryBackend({ clock: new FakeClock(now) });
    const backend = new Proxy(inner, {
      get: (target, property, receiver) => (property === 'capabilities' ? new Set(['change-events']) : Reflect.get(target, property, receiver)),
    });
    const client = createClient({ backend });
    for (const call of [
      () => client.flow({ a: page('a') }),
      () => client.chain([page('a')]),
      () => client.batch([page('a')]),
      () => client.flowProgress('x'),
      () => client.batchProgress('x'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY', details: { capability: 'flows' } });
    }
    const reads = defineJob({
      name: 'reads-children',
      run: async (_: null, ctx) => {
        const errors = [];
        for (const read of [() => ctx.children(), () => ctx.children(merge), () => ctx.childrenSummary()]) errors.push(await read().catch((error: unknown) => error));
        return errors.map((error) => (error as { code?: string }).code ?? String(error));
      },
    });
    const { data } = await client.job(reads).now(null);
    expect(data).toEqual(['UNSUPPORTED_CAPABILITY', 'UNSUPPORTED_CAPABILITY', 'UNSUPPORTED_CAPABILITY']);
    await client.close();
  });
});
