import { createHmac, randomBytes } from 'node:crypto';
import { readCookie, sameSecret } from './auth.ts';

/**
 * CSRF protection of every state-changing request (all of them POST): the browser must
 * show a token only our own pages can read, and, when it says where the request came
 * from (`Origin`, `Sec-Fetch-Site`), it must be this dashboard's own origin.
 *
 * The token is a MAC of a random per-browser value kept in an HttpOnly, SameSite=Strict
 * cookie; pages carry the token in a meta tag that htmx sends as `X-CSRF-Token` (forms as
 * the `_csrf` field). Requests authenticated by a Bearer header need no token: a browser
 * never adds that header by itself.
 */
export const csrfCookie = 'jobsmith_csrf';
export const csrfHeader = 'x-csrf-token';
export const csrfField = '_csrf';

export function csrfTokenFor(secret: string, browserValue: string): string {
  return createHmac('sha256', secret).update(`csrf:${browserValue}`).digest('base64url');
}

/** The browser's CSRF value, and the cookie to set when it has none yet. */
export function browserValue(request: Request): { value: string; isNew: boolean } {
  const existing = readCookie(request, csrfCookie);
  if (existing !== null && /^[\w-]{16,64}$/.test(existing)) return { value: existing, isNew: false };
  return { value: randomBytes(18).toString('base64url'), isNew: true };
}

export function csrfCookieHeader(value: string, path: string): string {
  return `${csrfCookie}=${value}; Path=${path}; HttpOnly; SameSite=Strict`;
}

/** Null when the request's origin is ours (or it names none), else why not. */
export function originProblem(request: Request): string | null {
  const origin = request.headers.get('origin');
  const host = request.headers.get('host') ?? new URL(request.url).host;
  if (origin !== null) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return `the Origin header "${origin}" is not a URL`;
    }
    return originHost === host ? null : `the request came from ${origin}, not from this dashboard`;
  }
  const site = request.headers.get('sec-fetch-site');
  return site === null || site === 'same-origin' || site === 'none' ? null : `the browser marked the request ${site}`;
}

/** Null when the token the request carries matches its browser's cookie, else why not. */
export function tokenProblem(request: Request, secret: string, formToken: string | undefined): string | null {
  const cookie = readCookie(request, csrfCookie);
  if (cookie === null) return 'the CSRF cookie is missing (load a page of the dashboard first)';
  const given = request.headers.get(csrfHeader) ?? formToken;
  if (given === undefined || given === '') return 'the CSRF token is missing';
  return sameSecret(given, csrfTokenFor(secret, cookie)) ? null : 'the CSRF token does not match';
}
