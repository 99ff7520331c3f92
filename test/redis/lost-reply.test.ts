/**
 * A reply lost after Redis ran the call: the connection drops between the script's write and
 * the client hearing of it. ioredis reconnects and sends the unanswered command again, so the
 * same enqueue runs a second time on a store that already holds its jobs. That second run must
 * answer as the first did (the job is there, created by this call), not fail with "a job with
 * that id already exists", which would tell the caller its job was not enqueued and invite a
 * second, duplicate job.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { createClient, defineJob, type Client, step } from '../../src/index.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';
import { ReplyCuttingProxy } from '../support/reply-cutting-proxy.ts';

const servers = requireServers('redis');

const mail = defineJob({ name: 'lost-reply-mail', run: async (to: string) => ({ sent: to }) });

describe.skipIf(servers.skip)('redis: a reply lost after the server ran the call', () => {
  let server: RedisServer;
  let proxy: ReplyCuttingProxy;
  let client: Client | undefined;

  beforeAll(async () => {
    server = await startRedis();
    proxy = await ReplyCuttingProxy.start(server.port);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  beforeEach(() => {
    proxy.cut.length = 0;
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  function clientThroughProxy(prefix: string): { client: Client; backend: RedisBackend } {
    const backend = new RedisBackend({ url: `redis://127.0.0.1:${proxy.port}`, prefix, onWarning: () => {} });
    client = createClient({ backend, jobs: [mail] });
    return { client, backend };
  }

  it('an enqueue sent again after its reply was lost returns the job it created, and the store holds it once', async () => {
    const { client } = clientThroughProxy('lost-enqueue');
    await client.stats(); // connect and load the scripts before the cut
    proxy.cutNextReply((request) => request.includes('ada@example.com'));
    const result = await client.enqueue(mail, 'ada@example.com');
    expect(proxy.cut).toHaveLength(1);
    expect(result.created).toBe(true);
    const job = await client.get(result.id);
    expect(job).toMatchObject({ id: result.id, name: 'lost-reply-mail', payload: 'ada@example.com', state: 'queued' });
    const { counts } = await client.stats();
    expect(counts.queued).toBe(1);
  });

  it('a bulk enqueue with a keyed job sent again returns what the first run did: created ids, and the held key as not created', async () => {
    const { client } = clientThroughProxy('lost-bulk');
    const holder = await client.enqueue(mail, 'holder@example.com', { key: 'monthly' });
    proxy.cutNextReply((request) => request.includes('grace@example.com'));
    const results = await client.enqueueMany([
      { job: mail, payload: 'grace@example.com' },
      { job: mail, payload: 'again@example.com', options: { key: 'monthly' } },
      { job: mail, payload: 'linus@example.com', options: { key: 'weekly' } },
    ]);
    expect(proxy.cut).toHaveLength(1);
    expect(results.map((result) => result.created)).toEqual([true, false, true]);
    expect(results[1]!.id).toBe(holder.id);
    const { counts } = await client.stats();
    expect(counts.queued).toBe(3);
    expect(await client.get(results[2]!.id)).toMatchObject({ key: 'weekly', payload: 'linus@example.com' });
  });

  it('a claim sent again after its reply was lost answers with the jobs it leased, instead of leaving them to wait out their lease', async () => {
    const { client, backend } = clientThroughProxy('lost-claim');
    const queued = await client.enqueueMany([
      { job: mail, payload: 'one@example.com' },
      { job: mail, payload: 'two@example.com' },
      { job: mail, payload: 'three@example.com' },
    ]);
    const request = { workerId: 'claimer-lost-reply', leaseMs: 60_000, queues: ['default'], names: [mail.name] };
    proxy.cutNextReply((text) => text.includes('claimer-lost-reply'));
    const claimed = await backend.claim({ ...request, limit: 2 });
    expect(proxy.cut).toHaveLength(1);
    expect(claimed.jobs.map((job) => job.id)).toEqual(queued.slice(0, 2).map((result) => result.id));
    // The leases answered are the ones stored: the worker can settle both.
    for (const job of claimed.jobs) expect((await backend.get(job.id))?.lease?.token).toBe(job.lease.token);
    const stats = await client.stats();
    expect(stats.counts).toMatchObject({ running: 2, queued: 1 });
    // Settling one and claiming in the same call, with that reply lost too: the outcome is
    // written once, and the claim answers the one job left.
    proxy.cutNextReply((text) => text.includes('claimer-lost-reply'));
    const [first, second] = claimed.jobs;
    const settled = await backend.settle(
      [{ kind: 'complete', id: first!.id, token: first!.lease.token, result: { sent: 'one' }, expiresAt: null }],
      { ...request, limit: 5 },
    );
    expect(proxy.cut).toHaveLength(2);
    expect(settled.applied).toEqual([true]);
    expect(settled.claimed?.jobs.map((job) => job.id)).toEqual([queued[2]!.id]);
    expect((await client.stats()).counts).toMatchObject({ running: 2, queued: 0, completed: 1 });
    expect(await backend.get(second!.id)).toMatchObject({ state: 'running', attempts: 0, crashes: 0 });
  });

  it('a chain sent again after its reply was lost is answered as written, once', async () => {
    const { client } = clientThroughProxy('lost-flow');
    await client.stats();
    proxy.cutNextReply((request) => request.includes('first@example.com'));
    const chain = await client.chain([step(mail, 'first@example.com'), step(mail, 'second@example.com')]);
    expect(proxy.cut).toHaveLength(1);
    expect(await client.flowProgress(chain.flowId)).toMatchObject({ total: 2 });
    const { counts } = await client.stats();
    expect(counts.queued + counts.scheduled).toBe(2);
  });
});
