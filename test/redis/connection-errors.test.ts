/**
 * A Redis that cannot be reached must say where it was looked for. ioredis rejects with
 * "Connection is closed." alone, which names neither the host nor why.
 */
import { describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { StoreError, createClient } from '../../src/index.ts';
import { freePort } from '../support/free-port.ts';

const password = 'hunter2-secret';

async function openError(url: string): Promise<StoreError> {
  const backend = new RedisBackend({ url });
  try {
    await backend.open();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  } finally {
    await backend.close();
  }
  throw new Error(`expected ${url} not to open`);
}

describe('redis: unreachable servers', () => {
  it('a refused port names host:port and why, without the password', async () => {
    const port = await freePort();
    const error = await openError(`redis://:${password}@127.0.0.1:${port}/0`);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(password);
    expect(error.details).toMatchObject({ address: `127.0.0.1:${port}` });
    expect(error.transient).toBe(true);
  });

  it('an unknown host names host:port, without the password', async () => {
    const error = await openError(`redis://user:${password}@no-such-host.invalid:6390/0`);
    expect(error.message).toContain('no-such-host.invalid:6390');
    expect(error.message).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(error.message).not.toContain(password);
  });

  it('a client given the URL reports it the same way on first use', async () => {
    const port = await freePort();
    const client = createClient({ backend: `redis://:${password}@127.0.0.1:${port}` });
    try {
      const error = await client.list().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect((error as Error).message).not.toContain(password);
    } finally {
      await client.close();
    }
  });
});
