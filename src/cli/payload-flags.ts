import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from './cli-errors.ts';

/**
 * How `--param` reads a value, the rule the README documents:
 * - `key=value`: a number (`5`, `-2.5`, `1e3`) becomes a number, `true` / `false` a
 *   boolean, `null` null; anything else is a string. A whole number too large to be exact
 *   in JavaScript, or one with a leading zero (`007`), stays a string.
 * - `key:=value` keeps the value a string whatever it looks like (`zip:=01234`), and so does
 *   a value in double quotes (`'zip="5"'`).
 * - Dotted keys nest: `user.id=7 user.name=Ada` is `{ user: { id: 7, name: 'Ada' } }`.
 */
export function parseParams(params: readonly string[]): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const param of params) {
    const match = /^([^=:]+?)(:?=)(.*)$/s.exec(param);
    if (!match) throw usageError(`Bad --param "${param}": expected key=value (or key:=value for a string).`);
    const [, key, operator, raw] = match as unknown as [string, string, string, string];
    const path = key.trim().split('.');
    if (path.some((segment) => segment === '' || segment === '__proto__' || segment === 'constructor' || segment === 'prototype')) {
      throw usageError(`Bad --param "${param}": "${key}" is not a key (use letters, digits and dots between names).`);
    }
    setPath(payload, path, operator === ':=' ? raw : parseValue(raw), param);
  }
  return payload;
}

function parseValue(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return raw.slice(1, -1);
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(raw)) {
    const number = Number(raw);
    const whole = /^-?\d+$/.test(raw);
    if (Number.isFinite(number) && (!whole || Number.isSafeInteger(number))) return number;
  }
  return raw;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown, param: string): void {
  let node = target;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    const existing = Object.hasOwn(node, segment) ? node[segment] : undefined;
    const soFar = path.slice(0, index + 1).join('.');
    if (last) {
      if (existing !== undefined) throw usageError(`Bad --param "${param}": "${soFar}" is given twice.`);
      node[segment] = value;
      return;
    }
    if (existing === undefined) node[segment] = {};
    else if (typeof existing !== 'object' || existing === null) throw usageError(`Bad --param "${param}": "${soFar}" is already a value, so it cannot hold keys.`);
    node = node[segment] as Record<string, unknown>;
  }
}

/** `--payload '<json>'` or `--payload @file.json` (relative to `cwd`). */
export function parsePayload(text: string, cwd: string): unknown {
  let json = text;
  let where = '--payload';
  if (text.startsWith('@')) {
    where = text.slice(1);
    try {
      json = readFileSync(resolve(cwd, where), 'utf8');
    } catch (error) {
      throw usageError(`Bad --payload: cannot read ${where}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
    }
  }
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw usageError(`Bad --payload: ${where} is not JSON (${(error as Error).message}).`, { cause: error });
  }
}

/** The payload from `--payload` or `--param` (not both); `{}` when neither is given. */
export function payloadFrom(options: { param?: string[]; payload?: string }, cwd: string): unknown {
  const params = options.param ?? [];
  if (options.payload !== undefined && params.length > 0) throw usageError('Give --payload or --param, not both.');
  if (options.payload !== undefined) return parsePayload(options.payload, cwd);
  return parseParams(params);
}

/** Commander collects repeated `--param` flags with this. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
