import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { InvalidOptionError } from '../index.ts';

/**
 * Who may use the dashboard:
 * - `{ token }`: an `Authorization: Bearer <token>` header (scripts), or the login form,
 *   which sets an HttpOnly, SameSite=Strict session cookie (browsers);
 * - `{ username, password }`: HTTP basic auth;
 * - a function: your own check of each request (a session of your app, a header your
 *   proxy sets); resolve true to let it through.
 * Without any, the dashboard answers only requests from loopback (127.0.0.1, ::1) with a
 * loopback `Host`, so an unconfigured dashboard is never reachable from the network.
 */
export type DashboardAuth =
  | { token: string }
  | { username: string; password: string }
  | ((request: Request) => boolean | Promise<boolean>);

/** The request's socket, where Node served it (`@hono/node-server`, `toNodeListener`); absent under `app.request()` or Next. */
export interface DashboardBindings {
  incoming?: Pick<IncomingMessage, 'socket'>;
}

/** How a request was let in; a Bearer token is never sent by a browser on its own, so it needs no CSRF token. */
export type AuthVerdict = { allowed: true; by: 'bearer' | 'cookie' | 'basic' | 'custom' | 'loopback' } | { allowed: false; reason: 'login' | 'basic' | 'custom' | 'not-loopback' };

export const sessionCookie = 'jobsmith_session';

export function checkAuthOption(auth: DashboardAuth | undefined): void {
  if (auth === undefined || typeof auth === 'function') return;
  if (typeof auth !== 'object' || auth === null) throw new InvalidOptionError('auth', auth, '{ token }, { username, password } or a function of the request');
  if ('token' in auth) {
    if (typeof auth.token !== 'string' || auth.token.length < 8) throw new InvalidOptionError('auth.token', '(hidden)', 'a string of at least 8 characters');
    return;
  }
  if (typeof auth.username !== 'string' || auth.username === '' || auth.username.includes(':') || typeof auth.password !== 'string' || auth.password === '') {
    throw new InvalidOptionError('auth', '(hidden)', 'a non-empty username without ":" and a non-empty password');
  }
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The session cookie's value for a token: a MAC of it, so the cookie never holds the token itself. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('jobsmith-dashboard-session').digest('base64url');
}

const loopbackAddresses = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && (loopbackAddresses.has(address) || address.startsWith('127.'));
}

/** A `Host` naming this machine: a DNS name that resolves elsewhere (rebinding) is refused even from loopback. */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export function readCookie(request: Request, name: string): string | null {
  const header = request.headers.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return null;
}

/** The one auth decision every route goes through. */
export async function decide(auth: DashboardAuth | undefined, request: Request, bindings: DashboardBindings | undefined): Promise<AuthVerdict> {
  if (auth === undefined) {
    const loopback = isLoopbackAddress(bindings?.incoming?.socket?.remoteAddress) && isLoopbackHost(request.headers.get('host') ?? new URL(request.url).host);
    return loopback ? { allowed: true, by: 'loopback' } : { allowed: false, reason: 'not-loopback' };
  }
  if (typeof auth === 'function') return (await auth(request)) === true ? { allowed: true, by: 'custom' } : { allowed: false, reason: 'custom' };
  const authorization = request.headers.get('authorization') ?? '';
  if ('token' in auth) {
    if (authorization.startsWith('Bearer ') && sameSecret(authorization.slice(7).trim(), auth.token)) return { allowed: true, by: 'bearer' };
    const cookie = readCookie(request, sessionCookie);
    if (cookie !== null && sameSecret(cookie, sessionValue(auth.token))) return { allowed: true, by: 'cookie' };
    return { allowed: false, reason: 'login' };
  }
  if (authorization.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Both compared, always, so the time taken does not tell which one was wrong.
    const userOk = sameSecret(decoded.slice(0, colon), auth.username);
    const passwordOk = sameSecret(decoded.slice(colon + 1), auth.password);
    if (colon > 0 && userOk && passwordOk) return { allowed: true, by: 'basic' };
  }
  return { allowed: false, reason: 'basic' };
}
