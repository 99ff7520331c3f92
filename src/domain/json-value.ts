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
  checkJson(value, field);
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short text needs no count.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes)) {
    throw new PayloadTooLargeError(field, Buffer.byteLength(text), maxBytes);
  }
  return text;
}

/**
 * The path and the ancestors of the walk, kept from one call to the next: a bulk enqueue walks
 * a payload per job, and two collections per payload were a good part of its garbage (issue
 * #21). A walk that starts while one is under way (a getter of the payload's that writes JSON
 * of its own) takes fresh ones. Both are empty again after every walk, thrown or not.
 */
const walk = { busy: false, path: [] as JsonPath, ancestors: new Set<object>() };

function checkJson(value: unknown, field: string): void {
  if (walk.busy) return assertJson(value, field, [], new Set(), 0);
  walk.busy = true;
  try {
    assertJson(value, field, walk.path, walk.ancestors, 0);
  } finally {
    walk.busy = false;
    walk.path.length = 0;
    walk.ancestors.clear();
  }
}

/**
 * Where in the value a check is: the keys and indexes from the root, pushed and popped as the
 * walk goes, and written out (`a.b[2]`) only for an error, not for every key of every payload.
 */
type JsonPath = Array<string | number>;

function pathText(path: JsonPath): string {
  let text = '';
  for (const step of path) text = typeof step === 'number' ? `${text}[${step}]` : text ? `${text}.${printable(step)}` : printable(step);
  return text;
}

/** The path for an error: `(root)` for the value itself. */
function where(path: JsonPath): string {
  return pathText(path) || '(root)';
}

function assertJson(value: unknown, field: string, path: JsonPath, ancestors: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string': {
      const unstorable = unstorableCharacter(value);
      if (unstorable) throw new PayloadNotJsonError(field, where(path), `contains ${unstorable}`, value);
      return;
    }
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new PayloadNotJsonError(field, where(path), `is ${value}, which JSON cannot hold`, value);
      return;
    case 'bigint':
      throw new PayloadNotJsonError(field, where(path), 'is a BigInt; pass it as a string', value);
    case 'function':
      throw new PayloadNotJsonError(field, where(path), 'is a function', value);
    case 'symbol':
      throw new PayloadNotJsonError(field, where(path), 'is a symbol', value);
    case 'undefined':
      throw new PayloadNotJsonError(field, where(path), 'is undefined', value);
  }
  if (value === null) return;
  const object = value as object;
  if (depth >= maxDepth) throw new PayloadNotJsonError(field, where(path), `nests deeper than ${maxDepth} levels`, undefined);
  if (ancestors.has(object)) throw new PayloadNotJsonError(field, where(path), 'refers back to itself (a cycle)', undefined);
  ancestors.add(object);
  if (Array.isArray(object)) {
    // A plain loop, not forEach: forEach skips the holes of a sparse array, which JSON would store as null.
    for (let index = 0; index < object.length; index++) {
      path.push(index);
      if (!(index in object)) throw new PayloadNotJsonError(field, pathText(path), 'is a hole in a sparse array', undefined);
      assertJson(object[index], field, path, ancestors, depth + 1);
      path.pop();
    }
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      const hint = object instanceof Date ? '; pass date.toISOString()' : '; pass a plain object';
      throw new PayloadNotJsonError(field, where(path), `is a ${kind} instance${hint}`, value);
    }
    for (const key of Object.keys(object)) {
      const item = (object as Record<string, unknown>)[key];
      // An undefined property is dropped by JSON, which is what optional fields mean.
      if (item === undefined) continue;
      path.push(key);
      const unstorable = unstorableCharacter(key);
      if (unstorable) throw new PayloadNotJsonError(field, pathText(path), `is a key that contains ${unstorable}`, key);
      assertJson(item, field, path, ancestors, depth + 1);
      path.pop();
    }
  }
  ancestors.delete(object);
}
