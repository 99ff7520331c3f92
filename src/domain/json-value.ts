import { PayloadNotJsonError, PayloadTooLargeError } from './errors.ts';
import { printable, unstorableCharacter } from './storable-text.ts';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Nesting deeper than this is rejected: it would overflow a recursive reader and is never intended. */
const maxDepth = 256;

/**
 * Checks that `value` round-trips through JSON unchanged, and returns its JSON text.
 * Rejects what `JSON.stringify` would silently drop or mangle: functions, symbols,
 * BigInt, NaN and Infinity, class instances (Date, Map, …), `undefined` in arrays,
 * and cycles; and text that not every store can keep (a NUL character or a lone
 * surrogate, in a string or a key: see storable-text.ts). `field` and the path name the
 * offending spot in the error.
 */
export function toJsonText(value: unknown, field: string, maxBytes = Number.POSITIVE_INFINITY): string {
  assertJson(value, field, '', new Set(), 0);
  const text = JSON.stringify(value);
  if (text.length > maxBytes || Buffer.byteLength(text) > maxBytes) {
    throw new PayloadTooLargeError(field, Buffer.byteLength(text), maxBytes);
  }
  return text;
}

function assertJson(value: unknown, field: string, path: string, ancestors: Set<object>, depth: number): void {
  const at = path || '(root)';
  switch (typeof value) {
    case 'string': {
      const unstorable = unstorableCharacter(value);
      if (unstorable) throw new PayloadNotJsonError(field, at, `contains ${unstorable}`, value);
      return;
    }
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new PayloadNotJsonError(field, at, `is ${value}, which JSON cannot hold`, value);
      return;
    case 'bigint':
      throw new PayloadNotJsonError(field, at, 'is a BigInt; pass it as a string', value);
    case 'function':
      throw new PayloadNotJsonError(field, at, 'is a function', value);
    case 'symbol':
      throw new PayloadNotJsonError(field, at, 'is a symbol', value);
    case 'undefined':
      throw new PayloadNotJsonError(field, at, 'is undefined', value);
  }
  if (value === null) return;
  const object = value as object;
  if (depth >= maxDepth) throw new PayloadNotJsonError(field, at, `nests deeper than ${maxDepth} levels`, undefined);
  if (ancestors.has(object)) throw new PayloadNotJsonError(field, at, 'refers back to itself (a cycle)', undefined);
  ancestors.add(object);
  if (Array.isArray(object)) {
    // A plain loop, not forEach: forEach skips the holes of a sparse array, which JSON would store as null.
    for (let index = 0; index < object.length; index++) {
      if (!(index in object)) throw new PayloadNotJsonError(field, `${path}[${index}]`, 'is a hole in a sparse array', undefined);
      assertJson(object[index], field, `${path}[${index}]`, ancestors, depth + 1);
    }
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      const hint = object instanceof Date ? '; pass date.toISOString()' : '; pass a plain object';
      throw new PayloadNotJsonError(field, at, `is a ${kind} instance${hint}`, value);
    }
    for (const [key, item] of Object.entries(object)) {
      // An undefined property is dropped by JSON, which is what optional fields mean.
      if (item === undefined) continue;
      const itemPath = path ? `${path}.${printable(key)}` : printable(key);
      const unstorable = unstorableCharacter(key);
      if (unstorable) throw new PayloadNotJsonError(field, itemPath, `is a key that contains ${unstorable}`, key);
      assertJson(item, field, itemPath, ancestors, depth + 1);
    }
  }
  ancestors.delete(object);
}
