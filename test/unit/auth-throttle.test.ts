/**
 * The dashboard's lockout for wrong credentials, on explicit times: how long an address stays
 * refused, that old failures age out of the window, and that memory stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/dashboard/auth-throttle.ts';

describe('AuthThrottle', () => {
  it('refuses an address from its n-th failure within the window until windowMs after its last', () => {
    const throttle = new AuthThrottle({ failures: 3, windowMs: 10_000 });
    expect(throttle.recordFailure('a', 0)).toBe(false);
    expect(throttle.recordFailure('a', 1_000)).toBe(false);
    expect(throttle.retryAfterMs('a', 1_500)).toBe(0);
    expect(throttle.recordFailure('a', 2_000)).toBe(true);
    expect(throttle.retryAfterMs('a', 2_000)).toBe(10_000);
    expect(throttle.retryAfterMs('a', 11_999)).toBe(1);
    expect(throttle.retryAfterMs('a', 12_000)).toBe(0);
    expect(throttle.retryAfterMs('b', 2_000)).toBe(0);
  });

  it('forgets failures older than the window: slow typos never add up', () => {
    const throttle = new AuthThrottle({ failures: 3, windowMs: 10_000 });
    for (let at = 0; at < 100_000; at += 6_000) expect(throttle.recordFailure('a', at), `at ${at}`).toBe(false);
    expect(throttle.retryAfterMs('a', 100_000)).toBe(0);
  });

  it('a success clears the count', () => {
    const throttle = new AuthThrottle({ failures: 2, windowMs: 10_000 });
    throttle.recordFailure('a', 0);
    throttle.recordSuccess('a');
    expect(throttle.recordFailure('a', 1)).toBe(false);
  });

  it('remembers at most 10,000 addresses, forgetting the lapsed and then the oldest', () => {
    const throttle = new AuthThrottle({ failures: 1, windowMs: 1_000 });
    for (let n = 0; n < 10_000; n++) throttle.recordFailure(`old-${n}`, 0);
    // All of those have lapsed by 5,000: adding one more forgets them.
    throttle.recordFailure('new', 5_000);
    expect(throttle.retryAfterMs('new', 5_000)).toBe(1_000);
    expect(throttle.retryAfterMs('old-1', 5_000)).toBe(0);
    for (let n = 0; n < 10_001; n++) throttle.recordFailure(`flood-${n}`, 6_000);
    expect(throttle.retryAfterMs('flood-10000', 6_000)).toBe(1_000);
    expect(throttle.retryAfterMs('flood-0', 6_000)).toBe(0);
  });
});
