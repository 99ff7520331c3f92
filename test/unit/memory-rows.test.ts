import { describe, expect, it } from 'vitest';
import type { NewJob } from '../../src/contract/backend.ts';
import { jobRecord, storedJob } from '../../src/backends/memory/memory-rows.ts';

function stored() {
  const now = Date.UTC(2026, 0, 1);
  const job = storedJob(
    {
      id: '01900000-0000-7000-8000-000000000001',
      name: 'send',
      queue: 'mail',
      payload: '{"__proto__":{"polluted":true},"to":["a@example.com",{"cc":null}]}',
      metadata: { tenant: 't1', nested: { depth: [1, 2] } },
      priority: 0,
      key: null,
      maxAttempts: 3,
      backoff: null,
      timeoutMs: null,
      keepCompletedMs: null,
      keepFailedMs: null,
      runAt: now,
      createdAt: now,
    } as unknown as NewJob,
    now,
    1,
  );
  job.lease = { token: 'tok', workerId: 'w1', expiresAt: now + 30_000 };
  return job;
}

describe('memory rows', () => {
  it('a record is a deep copy: changing it changes nothing stored', () => {
    const job = stored();
    const record = jobRecord(job);
    expect(record).toMatchObject({ id: job.id, name: 'send', queue: 'mail', state: 'queued', metadata: { tenant: 't1', nested: { depth: [1, 2] } } });
    expect(record).not.toHaveProperty('seq');
    expect(record).not.toHaveProperty('settledToken');
    (record.metadata.nested as { depth: number[] }).depth.push(3);
    (record.payload as { to: unknown[] }).to.pop();
    record.lease!.expiresAt = 0;
    const again = jobRecord(job);
    expect(again.metadata).toEqual({ tenant: 't1', nested: { depth: [1, 2] } });
    expect((again.payload as { to: unknown[] }).to).toHaveLength(2);
    expect(job.lease!.expiresAt).toBeGreaterThan(0);
  });

  it('keeps a "__proto__" key of a payload as a key, never as the copy’s prototype', () => {
    const record = jobRecord(stored());
    const payload = record.payload as Record<string, unknown>;
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
    expect(Object.keys(payload)).toEqual(['__proto__', 'to']);
    expect((payload as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value).toEqual({ polluted: true });
  });

  it('copies values other than plain data (a Date a handler returned) as structuredClone does', () => {
    const job = stored();
    const finishedOn = new Date(Date.UTC(2026, 0, 2));
    job.result = { finishedOn } as never;
    const record = jobRecord(job);
    const copied = (record.result as unknown as { finishedOn: Date }).finishedOn;
    expect(copied).toBeInstanceOf(Date);
    expect(copied).not.toBe(finishedOn);
    expect(copied.getTime()).toBe(finishedOn.getTime());
  });
});
