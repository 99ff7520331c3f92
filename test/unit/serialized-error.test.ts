import { describe, expect, it } from 'vitest';
import { JobNotFoundError, PermanentError } from '../../src/domain/errors.ts';
import { type SerializedError, serializeError } from '../../src/domain/serialized-error.ts';

const at = Date.UTC(2026, 0, 1);

/** serializeError must never throw; this also checks the record is JSON-safe. */
function serialize(thrown: unknown, attempt = 2): SerializedError {
  const record = serializeError(thrown, at, attempt);
  expect(JSON.parse(JSON.stringify(record))).toEqual(record);
  expect(record.at).toBe(at);
  expect(record.attempt).toBe(attempt);
  return record;
}

describe('serializeError', () => {
  it('keeps name, message and stack of an Error', () => {
    const error = new TypeError('bad input');
    const record = serialize(error);
    expect(record).toEqual({ name: 'TypeError', message: 'bad input', stack: error.stack, at, attempt: 2 });
    expect(record).not.toHaveProperty('code');
  });

  it('keeps the code of a JobsmithError', () => {
    const record = serialize(new JobNotFoundError('j1'));
    expect(record.name).toBe('JobNotFoundError');
    expect(record.code).toBe('JOB_NOT_FOUND');
    expect(record.message).toBe('No job with id "j1".');
    expect(serialize(new PermanentError('nope')).code).toBe('PERMANENT');
  });

  it('keeps a string code of a plain error (as Node system errors have)', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: -111 });
    expect(serialize(error).code).toBe('ECONNREFUSED');
  });

  it('drops a code that is not a string', () => {
    expect(serialize(Object.assign(new Error('x'), { code: 42 }))).not.toHaveProperty('code');
  });

  it('clips a very long code', () => {
    const record = serialize(Object.assign(new Error('x'), { code: 'C'.repeat(1000) }));
    expect(record.code!.startsWith('C'.repeat(200))).toBe(true);
    expect(record.code!.length).toBeLessThan(300);
  });

  it("falls back to 'Error' when the name is empty", () => {
    const error = new Error('x');
    error.name = '';
    expect(serialize(error).name).toBe('Error');
  });

  it('omits the stack when there is none', () => {
    const error = new Error('x');
    delete error.stack;
    expect(serialize(error)).not.toHaveProperty('stack');
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined was thrown'],
    ['a string', 'plain failure', 'plain failure'],
    ['a number', 42, '42'],
    ['a plain object', { reason: 'quota', left: 0, ratio: Number.NaN }, "{ reason: 'quota', left: 0, ratio: NaN }"],
    ['a BigInt', 10n, '10n'],
    ['a symbol', Symbol('oops'), 'Symbol(oops)'],
  ])('records a thrown %s as a NonError', (_label, thrown, message) => {
    expect(serialize(thrown)).toEqual({ name: 'NonError', message, at, attempt: 2 });
  });

  it('records a circular object by its contents, not as [object Object]', () => {
    const circular: Record<string, unknown> = { a: 1, reason: 'quota' };
    circular['self'] = circular;
    const record = serialize(circular);
    expect(record.name).toBe('NonError');
    expect(record.message).toBe("<ref *1> { a: 1, reason: 'quota', self: [Circular *1] }");
  });

  it('records an object whose toString throws, and that JSON cannot hold either', () => {
    const hostile: Record<string, unknown> = {
      toString() {
        throw new Error('no printing');
      },
    };
    hostile['self'] = hostile;
    const record = serialize(hostile);
    expect(record.name).toBe('NonError');
    expect(record.message).toBe('<ref *1> { toString: [Function: toString], self: [Circular *1] }');
  });

  it('records a huge or deep thrown object within bounds, without calling its getters', () => {
    let deep: Record<string, unknown> = { bottom: true };
    for (let level = 0; level < 50; level++) deep = { level, next: deep };
    const withGetter = { get boom(): never { throw new Error('getter called'); }, big: 'x'.repeat(100_000), list: Array.from({ length: 1000 }, (_, i) => i) };
    const deepRecord = serialize(deep);
    expect(deepRecord.message).toContain('[Object]');
    expect(deepRecord.message.length).toBeLessThan(1000);
    const record = serialize(withGetter);
    expect(record.message).toContain('boom: [Getter]');
    expect(record.message).toContain('... 980 more items');
    expect(record.message.length).toBeLessThan(9 * 1024);
  });

  it('stores text every backend can keep: a NUL or a lone surrogate becomes U+FFFD, a cut never splits a pair', () => {
    const error = Object.assign(new Error('bad\u0000byte \ud800 and 🎉'), { name: 'Odd\u0000Error', code: 'E\udc00' });
    const record = serialize(error);
    expect(record).toMatchObject({ name: 'Odd\ufffdError', message: 'bad\ufffdbyte \ufffd and 🎉', code: 'E\ufffd' });
    expect(record.stack).not.toMatch(/\u0000/);
    expect(serialize('thrown\u0000string').message).toBe('thrown\ufffdstring');
    // 8 KiB of text whose cut falls between the halves of an emoji.
    const long = serialize(new Error(`${'a'.repeat(8 * 1024 - 1)}🎉 tail`));
    expect(long.message.startsWith(`${'a'.repeat(8 * 1024 - 1)}… (`)).toBe(true);
    expect(long.message).not.toMatch(/[\ud800-\udfff]/);
  });

  it('records an Error whose getters throw', () => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', {
      get() {
        throw new Error('no message for you');
      },
    });
    expect(serialize(error)).toEqual({ name: 'NonError', message: '(an unprintable value was thrown)', at, attempt: 2 });
  });

  it('records a Proxy that throws on every trap', () => {
    const trap = () => {
      throw new Error('trap');
    };
    const proxy = new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
    expect(serialize(proxy).name).toBe('NonError');
  });

  it('clips a 10 MB message and its stack', () => {
    const huge = 'x'.repeat(10 * 1024 * 1024);
    const record = serialize(new Error(huge));
    expect(record.message.length).toBeLessThan(9 * 1024);
    expect(record.message.startsWith('x'.repeat(8 * 1024))).toBe(true);
    expect(record.message).toMatch(/… \(\d+ more characters\)$/);
    expect(record.message).toContain(`(${10 * 1024 * 1024 - 8 * 1024} more characters)`);
    expect(record.stack!.length).toBeLessThan(17 * 1024);
  });

  it('clips a 10 MB thrown string', () => {
    const record = serialize('y'.repeat(10 * 1024 * 1024));
    expect(record.message.length).toBeLessThan(9 * 1024);
  });

  it('does not clip a message of exactly 8 KiB', () => {
    const message = 'z'.repeat(8 * 1024);
    expect(serialize(new Error(message)).message).toBe(message);
  });

  it('records the message of an error whose message is not a string', () => {
    const error = new Error('x');
    (error as { message: unknown }).message = { nested: true };
    expect(serialize(error).message).toBe('[object Object]');
  });
});
