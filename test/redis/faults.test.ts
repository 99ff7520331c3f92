/**
 * Redis fails under running workers: a restart (with AOF, so the data survives) and every
 * client connection killed. Workers must resume on their own within 5 s of Redis
 * accepting connections again (BullMQ #4585: workers that never resume), and no job is lost.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
});
