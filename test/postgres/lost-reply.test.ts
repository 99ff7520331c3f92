/**
 * A reply lost after PostgreSQL committed the enqueue: the connection drops between the
 * commit and the client hearing of it, so the call fails with a transient `StoreError`
 * though its jobs are stored. The client sends the same jobs again (`enqueueRetries`), and the
 * backend must answer that second call as the first committed it (created), not fail on the
 * taken ids, which would tell the caller the jobs were not enqueued, and not store them twice.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { type Client, createClient, defineJob } from '../../src/index.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';
import { ReplyCuttingProxy } from '../support/reply-cutting-proxy.ts';

const servers = requireServers('postgres');

const mail = defineJob({ name: 'lost-reply-mail', run: async (to: string) => ({ sent: to }) });

describe.skipIf(servers.skip)('postgres: an enqueue whose reply was lost after the commit', () => {
  let server: PostgresServer;
  let proxy: ReplyCuttingProxy;
  let client: Client | undefined;
  let schemas = 0;

  beforeAll(async () => {
    server = await startPostgres();
    proxy = await ReplyCuttingProxy.start(server.port);
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    proxy.cut.length = 0;
  });

  async function clientThroughProxy(enqueueRetries?: number): Promise<Client> {
    const backend = new PostgresBackend({ connectionString: `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`, schema: `lost_reply_${++schemas}` });
    client = createClient({ backend, jobs: [mail], ...(enqueueRetries === undefined ? {} : { enqueueRetries }) });
    await client.stats(); // connect and migrate before the cut
    return client;
  }

  it('a single enqueue is sent again, answered as created, and stored once', { timeout: 60_000 }, async () => {
    const client = await clientThroughProxy();
    proxy.cutNextReply((request) => request.includes('ada@example.com'));
    const result = await client.enqueue(mail, 'ada@example.com');
    expect(proxy.cut).toHaveLength(1);
    expect(result.created).toBe(true);
    expect(await client.get(result.id)).toMatchObject({ id: result.id, payload: 'ada@example.com', state: 'queued' });
    expect((await client.stats()).counts.queued).toBe(1);
  });

  it('a bulk enqueue with a keyed job its key turned away: the same answers again, every job stored once', { timeout: 60_000 }, async () => {
    const client = await clientThroughProxy();
    const holder = await client.enqueue(mail, 'holder@example.com', { key: 'weekly' });
    proxy.cutNextReply((request) => request.includes('bea@example.com'));
    const results = await client.enqueueMany([
      { job: mail, payload: 'bea@example.com' },
      { job: mail, payload: 'cy@example.com', options: { key: 'weekly' } },
      { job: mail, payload: 'dee@example.com' },
    ]);
    expect(proxy.cut).toHaveLength(1);
    expect(results.map((result) => result.created)).toEqual([true, false, true]);
    expect(results[1]!.id).toBe(holder.id);
    const stored = (await client.list({ limit: 10 })).jobs.map((job) => job.payload).sort();
    expect(stored).toEqual(['bea@example.com', 'dee@example.com', 'holder@example.com']);
  });

  it('the jobs ran and finished before the retry: still answered as created, not run twice', { timeout: 60_000 }, async () => {
    const client = await clientThroughProxy();
    const [first] = await client.enqueueMany([{ job: mail, payload: 'eve@example.com' }]);
    // What the retry of a lost reply finds when a worker was quicker: the job already completed.
    const backend = await client.backend();
    const [claimed] = (await backend.claim({ workerId: 'w', queues: ['default'], names: ['lost-reply-mail'], limit: 1, leaseMs: 30_000 })).jobs;
    await backend.settle([{ kind: 'complete', id: claimed!.id, token: claimed!.lease.token, result: null, expiresAt: null }]);
    // Finished, the job's row is in finished_jobs, where the primary key of jobs does not reach.
    const replay = await backend.enqueue([await storedNewJob(client, first!.id)], { resent: true });
    expect(replay).toEqual([{ id: first!.id, created: true }]);
    expect((await client.stats()).counts).toMatchObject({ queued: 0, completed: 1 });
  });

  it('a taken id under another job is a clash: refused, and nothing of the batch stored', { timeout: 60_000 }, async () => {
    const client = await clientThroughProxy(0);
    const [taken] = await client.enqueueMany([{ job: mail, payload: 'first@example.com' }]);
    const backend = await client.backend();
    const clash = { ...(await storedNewJob(client, taken!.id)), createdAt: 1 };
    const fresh = { ...clash, id: '01900000-0000-7000-8000-000000000001', createdAt: Date.now() };
    await expect(backend.enqueue([fresh, clash])).rejects.toMatchObject({ name: 'StoreError' });
    expect(await backend.get(fresh.id)).toBeNull();
    // Sent again with none of its ids stored (the first call never ran): an ordinary insert.
    expect(await backend.enqueue([fresh], { resent: true })).toEqual([{ id: fresh.id, created: true }]);
    await expect(backend.enqueue([clash], { resent: true })).rejects.toMatchObject({ name: 'StoreError', transient: false });
  });
});

/** The `NewJob` a stored job was enqueued as: what the client sends again after a lost reply. */
async function storedNewJob(client: Client, id: string) {
  const job = await client.get(id);
  if (job === null) throw new Error(`job ${id} is not stored`);
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    payload: JSON.stringify(job.payload),
    metadata: job.metadata,
    priority: job.priority,
    key: job.key,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    keepCompletedMs: job.keepCompletedMs,
    keepFailedMs: job.keepFailedMs,
    runAt: job.runAt,
    createdAt: job.createdAt,
  };
}
