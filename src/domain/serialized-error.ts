import { inspect } from 'node:util';
import { isJobsmithError } from './errors.ts';
import { storableText } from './storable-text.ts';

/** An error as stored with a job. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** When the attempt that threw it ran, or when the job was failed. */
  at: number;
  attempt: number;
}

const maxMessage = 8 * 1024;
const maxStack = 16 * 1024;

/**
 * Turns anything a handler threw into a bounded, JSON-safe record that every store can
 * keep (a NUL or a lone surrogate in a message becomes U+FFFD: see storable-text.ts).
 * Never throws: handlers throw strings, null, objects with cycles, or errors with huge messages.
 */
export function serializeError(thrown: unknown, at: number, attempt: number): SerializedError {
  try {
    if (thrown instanceof Error) {
      const code = isJobsmithError(thrown)
        ? thrown.code
        : typeof (thrown as { code?: unknown }).code === 'string'
          ? String((thrown as { code?: unknown }).code)
          : undefined;
      return {
        name: clip(String(thrown.name || 'Error'), 200),
        message: clip(String(thrown.message), maxMessage),
        ...(code === undefined ? {} : { code: clip(code, 200) }),
        ...(typeof thrown.stack === 'string' ? { stack: clip(thrown.stack, maxStack) } : {}),
        at,
        attempt,
      };
    }
    return { name: 'NonError', message: clip(describeThrown(thrown), maxMessage), at, attempt };
  } catch {
    return { name: 'NonError', message: '(an unprintable value was thrown)', at, attempt };
  }
}

/**
 * A stored error as an `Error` again, for a `failed` hook run by another worker after a
 * crash: the thrown value itself is gone, so its name, message, code and stack are what is left.
 */
export function errorFromStored(stored: SerializedError): Error & { code?: string } {
  const error: Error & { code?: string } = new Error(stored.message);
  error.name = stored.name;
  if (stored.code !== undefined) error.code = stored.code;
  if (stored.stack !== undefined) error.stack = stored.stack;
  return error;
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  if (thrown === undefined) return 'undefined was thrown';
  // inspect, not JSON: it shows cycles, NaN, BigInt and class names, never calls getters,
  // and its limits keep a huge object from costing more than its first few levels.
  return inspect(thrown, { depth: 4, maxArrayLength: 20, maxStringLength: 1000, breakLength: Number.POSITIVE_INFINITY });
}

function clip(text: string, max: number): string {
  return storableText(text, max, (dropped) => `… (${dropped} more characters)`);
}
