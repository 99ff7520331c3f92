import { describe, expect, it } from 'vitest';
import { waitingForChildren, waitingForChildrenText } from '../../src/domain/flow-waiting.ts';
import { type BackendCapability, createClient, defineJob, step, waitingForChildrenRunAt } from '../../src/index.ts';
import { MemoryBackend } from '../../src/testing/index.ts';

/** A store without flows, as PostgreSQL and Redis are until they have them. */
class NoFlows extends MemoryBackend {
  override readonly capabilities = new Set<BackendCapability>(['change-events', 'live-workers', 'durable-steps']);
}

const fetchPage = defineJob({ name: 'fetch-page', run: (url: string) => ({ url }) });
const merge = defineJob({ name: 'merge', run: () => 'merged' });

describe('client.children()', () => {
  it("lists a parent's children in the order given, with state and policy, found by an id prefix; a job without children has none", async () => {
    const client = createClient({ backend: new MemoryBackend() });
    const { ids } = await client.flow({
      a: step(fetchPage, 'https://a'),
      b: step(fetchPage, 'https://b'),
      m: step(merge, null, { children: [{ child: 'b', onChildFailure: 'continue' }, 'a'] }),
    });
    await client.cancel(ids.b);
    const children = await client.children(ids.m.slice(0, 30));
    expect(children.map((child) => [child.id, child.name, child.state, child.onChildFailure])).toEqual([
      [ids.b, 'fetch-page', 'cancelled', 'continue'],
      [ids.a, 'fetch-page', 'queued', 'fail'],
    ]);
    expect(await client.children(ids.a)).toEqual([]);
    expect(await client.children((await client.enqueue(merge, null)).id)).toEqual([]);
    await expect(client.children('00000000-0000-7000-8000-000000000000')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await client.close();
  });

  it('needs capability flows', async () => {
    const client = createClient({ backend: new NoFlows() });
    const { id } = await client.enqueue(merge, null);
    await expect(client.children(id)).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY', details: { capability: 'flows' } });
    await client.close();
  });
});

describe('waitingForChildren()', () => {
  const flow = { flowId: 'f', children: 3, pendingChildren: 2, hasParents: false };

  it('is the flow position of a scheduled job at the never-due mark only', () => {
    expect(waitingForChildren({ state: 'scheduled', runAt: waitingForChildrenRunAt, flow })).toBe(flow);
    // Released (queued now), delayed at an ordinary time, or outside a flow: not waiting for children.
    expect(waitingForChildren({ state: 'queued', runAt: 1_000, flow })).toBeNull();
    expect(waitingForChildren({ state: 'scheduled', runAt: 1_000, flow })).toBeNull();
    expect(waitingForChildren({ state: 'scheduled', runAt: waitingForChildrenRunAt })).toBeNull();
  });

  it('reads "waiting for N of M children"', () => {
    expect(waitingForChildrenText(flow)).toBe('waiting for 2 of 3 children');
    expect(waitingForChildrenText({ children: 1, pendingChildren: 1 })).toBe('waiting for 1 of 1 child');
  });
});
