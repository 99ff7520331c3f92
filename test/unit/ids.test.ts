import { describe, expect, it } from 'vitest';
import { newCompactLeaseToken, newJobId, newLeaseToken } from '../../src/domain/ids.ts';

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('job ids', () => {
  it('are UUIDv7s, unique and strictly increasing within one millisecond, across many refills of the random pool', () => {
    const now = Date.UTC(2026, 10, 23, 12);
    // 3,000 ids draw 24,000 random bytes: the 4 KiB pool is refilled several times.
    const ids = Array.from({ length: 3000 }, () => newJobId(now));
    for (const id of ids) expect(id).toMatch(uuidV7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The random part differs between consecutive ids: each takes fresh bytes from the pool.
    const randomParts = new Set(ids.map((id) => id.slice(19).replace('-', '').slice(1)));
    expect(randomParts.size).toBe(ids.length);
  });

  it('sort by the time they were made, and name that time in their first 48 bits', () => {
    const first = newJobId(Date.UTC(2030, 0, 1));
    const later = newJobId(Date.UTC(2030, 0, 2));
    expect(first < later).toBe(true);
    expect(Number.parseInt(later.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2030, 0, 2));
  });
});

describe('lease tokens', () => {
  it('are random UUIDs (version 4), unique, across many refills of the random pool', () => {
    const tokens = Array.from({ length: 1000 }, () => newLeaseToken());
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('compact ones are 16 base64url characters (96 random bits), unique', () => {
    const tokens = Array.from({ length: 1000 }, () => newCompactLeaseToken());
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
