/**
 * Redis fails under running workers: a restart (with AOF, so the data survives) and every
 * client connection killed. Workers must resume on their own within 5 s of Redis
 * accepting connections again (BullMQ #4585: workers that never resume), and no job is lost;
 * a subscription to new jobs made while Redis is down must be made again once it is up.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import type { BackendEvent } from '../../src/contract/backend.ts';
import { createClient, defineJob, StoreError } from '../../src/index.ts';
import { waitUntil } from '../integration/fixtures/harness.ts';
import { FaultTestResources, runThroughFault, startWhileDown } from '../integration/fixtures/store-faults.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis backend under Redis faults', () => {
  let server: RedisServer;
  let prefixes = 0;
  const resources = new FaultTestResources();
  const ran = new Map<number, number>();

  beforeAll(async () => {
    server = await startRedis({ appendonly: true, appendfsync: 'always' });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(() => resources.release());

  for (const fault of ['restart', 'CLIENT KILL'] as const) {
    it(`workers resume after a Redis ${fault} and finish every job`, { timeout: 90_000 }, async () => {
      const { errors, resumedAfterMs } = await runThroughFault({
        url: `${server.url}?prefix=faults-${++prefixes}`,
        resources,
        ran,
        lease: '5s',
        resumeWithinMs: 5_000,
        fault: async () => {
          if (fault === 'restart') await server.restart();
          else expect(await server.clientKillAll()).toBeGreaterThan(0);
        },
      });
      console.log(`redis ${fault}: resumed ${resumedAfterMs} ms after Redis was back; ${errors.length} errors reported`);
    });
  }

  it('a worker started while Redis is down keeps trying, and works within 5 s of it coming up', { timeout: 60_000 }, async () => {
    const down = await startRedis();
    try {
      await startWhileDown({ url: `${down.url}?prefix=late`, server: down, resources, downForMs: 2000 });
    } finally {
      await down.stop();
    }
  });

  // ioredis restores after a reconnect only a subscription that once succeeded: a SUBSCRIBE
  // rejected while the server was down was dropped, and workers heard of new jobs only at their poll.
  it('a backend that subscribes while Redis is down says so, and hears of new jobs once Redis is back', { timeout: 60_000 }, async () => {
    const down = await startRedis();
    const url = `${down.url}?prefix=subscribed-while-down`;
    const listening = new RedisBackend({ url });
    const job = defineJob<{ n: number }>({ name: 'sub.ping', run: () => {} });
    const producer = createClient({ backend: url, jobs: [job] });
    const events: BackendEvent[] = [];
    try {
      await down.kill();
      listening.subscribe((event) => events.push(event));
      await waitUntil('a connection-error while Redis is down', () => events.some((event) => event.type === 'connection-error') || 'no connection-error yet', { timeoutMs: 10_000 });
      const error = events.find((event) => event.type === 'connection-error')!;
      expect((error as { error: unknown }).error).toBeInstanceOf(StoreError);
      // Down for longer than one SUBSCRIBE's retries, so the first one is rejected for good.
      await new Promise((resolve) => setTimeout(resolve, 2500));

      await down.start();
      await waitUntil('the reconnect', () => events.some((event) => event.type === 'changed') || 'no changed event yet', { timeoutMs: 10_000 });
      // Pub/sub keeps nothing for a subscriber that is not there yet: enqueue until one is heard.
      let sent = 0;
      await waitUntil(
        "the producer's 'enqueued' through pub/sub",
        async () => {
          if (events.some((event) => event.type === 'enqueued' && event.queue === 'default')) return true;
          await producer.enqueue(job, { n: ++sent });
          return `${sent} enqueued, none heard; events so far: ${events.map((event) => event.type).join(', ')}`;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    } finally {
      await producer.close();
      await listening.close();
      await down.stop();
    }
  });
});
