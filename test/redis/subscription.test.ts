/**
 * The events channel of a Redis backend whose server is down when it subscribes. ioredis
 * resubscribes by itself after a reconnect, but only to a subscription that once succeeded: a
 * SUBSCRIBE rejected while the server was down was dropped, and the backend's workers heard of
 * new jobs only at their poll, for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import type { BackendEvent } from '../../src/contract/backend.ts';
import { createClient, defineJob, StoreError } from '../../src/index.ts';
import { waitUntil } from '../integration/fixtures/harness.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis: the events subscription', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('a backend that subscribes while Redis is down says so, and hears of new jobs once Redis is back', { timeout: 30_000 }, async () => {
    const url = `${server.url}?prefix=subscribed-while-down`;
    const listening = new RedisBackend({ url });
    const job = defineJob<{ n: number }>({ name: 'sub.ping', run: () => {} });
    const producer = createClient({ backend: url, jobs: [job] });
    const events: BackendEvent[] = [];
    try {
      await server.kill();
      listening.subscribe((event) => events.push(event));
      await waitUntil('a connection-error while Redis is down', () => events.some((event) => event.type === 'connection-error') || 'no connection-error yet', { timeoutMs: 10_000 });
      const error = events.find((event) => event.type === 'connection-error')!;
      expect((error as { error: unknown }).error).toBeInstanceOf(StoreError);
      // Down for longer than one SUBSCRIBE's retries, so the first one is rejected for good.
      await new Promise((resolve) => setTimeout(resolve, 2500));

      await server.start();
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
    }
  });
});
