import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { type Client, type Logger, type Scheduler, createScheduler, InvalidOptionError, isJobsmithError, isTerminal, type JobsmithErrorCode, silentLogger } from '../index.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import { registerApiRoutes } from './api-routes.ts';
import { type AuthFailureLimit, AuthThrottle } from './auth-throttle.ts';
import { type AuthVerdict, checkAuthOption, type DashboardAuth, type DashboardBindings, decide, sameSecret, sessionCookie, sessionValue } from './auth.ts';
import { browserValue, csrfCookieHeader, csrfField, csrfTokenFor, originProblem, tokenProblem } from './csrf.ts';
import type { DashboardContext, PageRequest } from './dashboard-context.ts';
import type { SafeHtml } from './html.ts';
import { LiveEvents, type LiveEventsOptions } from './live-events.ts';
import { flowPage } from './pages/flow.ts';
import { failedPage, jobsPage } from './pages/jobs.ts';
import { jobDetailPage } from './pages/job-detail.ts';
import { loginPage, messagePage } from './pages/login.ts';
import { overviewPage } from './pages/overview.ts';
import { queuesPage } from './pages/queues.ts';
import { schedulesPage } from './pages/schedules.ts';
import { workersPage } from './pages/workers.ts';
import { securityHeaders } from './security-headers.ts';
import { loadStaticFiles } from './static-files.ts';

export interface DashboardOptions {
  /** The client the dashboard reads and steers through. */
  client: Client;
  /** Who may use it (see `DashboardAuth`). Without it, only loopback requests are answered. */
  auth?: DashboardAuth;
  /** The path it is mounted under, such as `/jobs`. @default '' */
  basePath?: string;
  /** Hide every action and refuse every write in the API. @default false */
  readOnly?: boolean;
  /**
   * The scheduler used for schedules. "Run now" needs the schedule's job definition, so
   * pass one that knows your jobs; without it, one without jobs is made on the client's
   * backend (listing, enable and disable work; "run now" reports the unknown job).
   */
  scheduler?: Scheduler;
  /**
   * Keys the CSRF tokens. Give the same value to every instance behind one load balancer;
   * @default random per instance (a restart asks open pages to reload before writing)
   */
  secret?: string;
  logger?: Logger;
  /** Timing of the live updates. */
  live?: LiveEventsOptions;
  /**
   * With a token or basic-auth credentials: how many wrong ones (login form, Bearer token,
   * basic-auth password) one client address may send before every credential from it is
   * refused with 429 for a while. `false` turns it off, for example behind a proxy that makes
   * every client one address (the dashboard sees the socket's address, never a forwarded one).
   * @default { failures: 10, windowMs: 900000 }
   */
  authFailureLimit?: AuthFailureLimit | false;
}

export interface DashboardEnv {
  Bindings: DashboardBindings;
  Variables: { verdict: AuthVerdict & { allowed: true } };
}

/** The Hono app, with the live-update state exposed for shutdown and tests. */
export type Dashboard = Hono<DashboardEnv> & {
  /** Server-sent event streams open now. */
  liveConnections(): number;
  /** Ends the live streams and closes the scheduler the dashboard made itself. */
  close(): Promise<void>;
};

const optionNames = Object.keys({ client: true, auth: true, basePath: true, readOnly: true, scheduler: true, secret: true, logger: true, live: true, authFailureLimit: true } satisfies Record<keyof DashboardOptions, true>);

const statusOf: Partial<Record<JobsmithErrorCode, 400 | 404 | 409 | 501>> = {
  JOB_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  AMBIGUOUS_ID: 409,
  INVALID_STATE: 409,
  INVALID_OPTION: 400,
  UNKNOWN_JOB: 400,
  INVALID_SCHEDULE: 400,
  INVALID_PAYLOAD: 400,
  UNSUPPORTED_CAPABILITY: 501,
};

function normalizeBase(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (typeof basePath !== 'string' || !/^(\/[\w.~-]+)+\/?$/.test(basePath)) throw new InvalidOptionError('basePath', basePath, 'a path such as "/jobs"');
  return basePath.replace(/\/$/, '');
}

/**
 * The dashboard as a Hono app: server-rendered pages, a JSON API under `/api`, one
 * server-sent events stream and its own static files. Mount it under `basePath` in any
 * server that speaks web `Request`/`Response` (or Node's, through `toNodeListener`), or
 * run it alone with `serveDashboard`.
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  assertKnownOptions(options, optionNames, 'createDashboard options');
  if (typeof options.client !== 'object' || options.client === null || typeof options.client.list !== 'function') {
    throw new InvalidOptionError('client', options.client, 'a client from createClient()');
  }
  checkAuthOption(options.auth);
  // A custom auth function decides for itself; loopback-only needs no credentials at all.
  const throttle = typeof options.auth === 'object' && options.authFailureLimit !== false ? new AuthThrottle(options.authFailureLimit ?? {}) : null;
  const base = normalizeBase(options.basePath);
  const logger = options.logger ?? silentLogger;
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const client = options.client;
  let ownScheduler: Scheduler | null = null;
  const context: DashboardContext = {
    client,
    base,
    readOnly: options.readOnly === true,
    scheduler: async () => {
      if (options.scheduler) return options.scheduler;
      ownScheduler ??= createScheduler({ backend: await client.backend() });
      return ownScheduler;
    },
  };
  const live = new LiveEvents(client, logger, options.live);
  const files = loadStaticFiles();
  const cookiePath = base === '' ? '/' : base;
  const app = new Hono<DashboardEnv>();
  const wantsJson = (c: Context<DashboardEnv>) => c.req.path.startsWith(`${base}/api/`) || c.req.path === `${base}/events` || c.req.path.startsWith(`${base}/static/`);

  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(securityHeaders())) c.res.headers.set(name, value);
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  });

  // The login page's stylesheet is the only file served before auth: it holds nothing but CSS.
  const publicPaths = new Set([`${base}/login`, `${base}/static/dashboard.css`]);

  app.use('*', async (c, next) => {
    if (publicPaths.has(c.req.path)) return next();
    // Only a credential typed by someone counts: a stale session cookie a browser resends
    // after the token changed is no guess (it is a MAC of the old token).
    const guessed = throttle !== null && (c.req.header('authorization') ?? '') !== '';
    const refused = guessed ? await lockedOut(c) : null;
    if (refused) return refused;
    const verdict = await decide(options.auth, c.req.raw, c.env);
    if (verdict.allowed) {
      if (guessed) throttle.recordSuccess(clientAddress(c));
      c.set('verdict', verdict);
      return next();
    }
    if (guessed) await countFailure(c);
    return refuse(c, verdict.reason);
  });

  const clientAddress = (c: Context<DashboardEnv>) => c.env?.incoming?.socket?.remoteAddress ?? 'unknown';
  /** 429 with Retry-After while the client's address is refused for wrong credentials; null otherwise. */
  const lockedOut = async (c: Context<DashboardEnv>): Promise<Response | null> => {
    const waitMs = throttle?.retryAfterMs(clientAddress(c), (await client.backend()).now()) ?? 0;
    if (waitMs <= 0) return null;
    const seconds = Math.ceil(waitMs / 1000);
    c.header('Retry-After', String(seconds));
    const message = `Too many wrong credentials from this address: try again in ${seconds} s.`;
    return wantsJson(c) || c.req.method !== 'GET' ? c.json({ error: { code: 'TOO_MANY_ATTEMPTS', message } }, 429) : c.html(messagePage(context, 'Too many attempts', message).text, 429);
  };
  const countFailure = async (c: Context<DashboardEnv>) => {
    const address = clientAddress(c);
    if (throttle?.recordFailure(address, (await client.backend()).now())) {
      logger.warn({ address, path: c.req.path }, 'dashboard: too many wrong credentials from one address; refusing it for a while');
    }
  };

  const refuse = (c: Context<DashboardEnv>, reason: 'login' | 'basic' | 'custom' | 'not-loopback') => {
    if (reason === 'not-loopback') {
      const message = 'This dashboard has no auth configured, so it answers only requests from loopback (127.0.0.1 or ::1, Host localhost). Configure auth (a token, basic-auth credentials or an auth function) to serve it elsewhere.';
      return wantsJson(c) ? c.json({ error: { code: 'FORBIDDEN', message } }, 403) : c.html(messagePage(context, 'Not on loopback', message).text, 403);
    }
    if (reason === 'basic') c.header('WWW-Authenticate', 'Basic realm="Jobsmith dashboard", charset="UTF-8"');
    if (reason === 'login') {
      if (!wantsJson(c) && c.req.method === 'GET') return c.redirect(`${base}/login?next=${encodeURIComponent(c.req.path + new URL(c.req.url).search)}`, 302);
      c.header('WWW-Authenticate', 'Bearer realm="Jobsmith dashboard"');
    }
    const message = 'Authentication required.';
    return wantsJson(c) ? c.json({ error: { code: 'UNAUTHORIZED', message } }, 401) : c.html(messagePage(context, 'Sign in', message).text, 401);
  };

  // Every write: refused in read-only mode, then checked for CSRF (Origin, then the token).
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (c.req.method !== 'POST') return c.json({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Reads are GET and writes are POST.' } }, 405);
    const isLogin = c.req.path === `${base}/login` || c.req.path === `${base}/logout`;
    if (context.readOnly && !isLogin) return c.json({ error: { code: 'READ_ONLY', message: 'This dashboard is read-only.' } }, 403);
    const origin = originProblem(c.req.raw);
    if (origin !== null) return c.json({ error: { code: 'CSRF', message: `Refused: ${origin}.` } }, 403);
    if (c.req.path === `${base}/login` || c.get('verdict')?.by === 'bearer') return next();
    const form = (c.req.header('content-type') ?? '').includes('form') ? await c.req.parseBody() : {};
    const field = form[csrfField];
    const problem = tokenProblem(c.req.raw, secret, typeof field === 'string' ? field : undefined);
    if (problem !== null) return c.json({ error: { code: 'CSRF', message: `Refused: ${problem}.` } }, 403);
    return next();
  });

  app.onError((error, c) => {
    const status = isJobsmithError(error) ? (statusOf[error.code] ?? 500) : 500;
    if (status === 500) logger.error({ err: error, path: c.req.path }, 'dashboard: request failed');
    const code = isJobsmithError(error) ? error.code : 'INTERNAL';
    const message = status === 500 && !isJobsmithError(error) ? 'Internal error (see the server log).' : error.message;
    if (wantsJson(c) || c.req.method === 'POST') return c.json({ error: { code, message } }, status);
    return c.html(messagePage(context, status === 404 ? 'Not found' : 'Error', message).text, status);
  });

  app.get(`${base}/static/*`, (c) => {
    const file = files.get(c.req.path.slice(`${base}/static/`.length));
    if (!file) return c.text('Not found', 404);
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, 'cache-control': 'public, max-age=3600' });
  });

  /** Renders a page for an authenticated GET, handing it the CSRF token for its buttons (and setting the browser's cookie the first time). */
  const page = (render: (request: PageRequest, c: Context<DashboardEnv>) => Promise<SafeHtml>) => async (c: Context<DashboardEnv>) => {
    const browser = browserValue(c.req.raw);
    if (browser.isNew) c.header('Set-Cookie', csrfCookieHeader(browser.value, cookiePath) + secure(c), { append: true });
    const now = (await client.backend()).now();
    const body = await render({ url: new URL(c.req.url), csrfToken: csrfTokenFor(secret, browser.value), now, signedIn: c.get('verdict').by === 'cookie' }, c);
    return c.html(body.text);
  };

  if (base !== '') app.get(base, (c) => c.redirect(`${base}/`, 301));
  app.get(`${base}/`, page((request) => overviewPage(context, request)));
  app.get(`${base}/jobs`, page((request) => jobsPage(context, request)));
  app.get(
    `${base}/jobs/:id`,
    page(async (request, c) => {
      const job = await client.get(c.req.param('id')!);
      // Every job not finished gets the "why isn't it running" panel (a running one: who holds it).
      const explanation = isTerminal(job.state) ? null : await client.explainWait(job.id);
      const flow = job.flow === undefined ? null : { children: await client.children(job.id), progress: await client.flowProgress(job.flow.flowId) };
      return jobDetailPage(context, request, job, explanation, flow);
    }),
  );
  app.get(`${base}/flows/:flowId`, async (c) => {
    const progress = await client.flowProgress(c.req.param('flowId'));
    if (progress === null) return c.html(messagePage(context, 'Not found', 'No job of this flow is in the store (a wrong id, or its jobs were pruned).').text, 404);
    return page((request) => Promise.resolve(flowPage(context, request, progress)))(c);
  });
  app.get(`${base}/failed`, page((request) => failedPage(context, request)));
  app.get(`${base}/queues`, page((request) => queuesPage(context, request)));
  app.get(`${base}/schedules`, page((request) => schedulesPage(context, request)));
  app.get(`${base}/workers`, page((request) => workersPage(context, request)));
  app.get(`${base}/events`, (c) => live.open(c.req.raw.signal));

  app.get(`${base}/api/csrf`, (c) => {
    const browser = browserValue(c.req.raw);
    if (browser.isNew) c.header('Set-Cookie', csrfCookieHeader(browser.value, cookiePath) + secure(c), { append: true });
    return c.json({ token: csrfTokenFor(secret, browser.value), header: 'X-CSRF-Token' });
  });
  registerApiRoutes(app, context);

  app.get(`${base}/login`, (c) => c.html(loginPage(context, safeNext(c.req.query('next'), base), null).text, options.auth && 'token' in options.auth ? 200 : 404));
  app.post(`${base}/login`, async (c) => {
    const auth = options.auth;
    if (!auth || typeof auth === 'function' || !('token' in auth)) return c.json({ error: { code: 'NOT_FOUND', message: 'This dashboard has no token login.' } }, 404);
    const refused = await lockedOut(c);
    if (refused) return refused;
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined, base);
    if (typeof form.token !== 'string' || !sameSecret(form.token, auth.token)) {
      await countFailure(c);
      return c.html(loginPage(context, next, 'That token is not right.').text, 401);
    }
    throttle?.recordSuccess(clientAddress(c));
    c.header('Set-Cookie', `${sessionCookie}=${sessionValue(auth.token)}; Path=${cookiePath}; HttpOnly; SameSite=Strict${secure(c)}`);
    return c.redirect(next, 303);
  });
  app.post(`${base}/logout`, (c) => {
    c.header('Set-Cookie', `${sessionCookie}=; Path=${cookiePath}; HttpOnly; SameSite=Strict; Max-Age=0`);
    return c.redirect(`${base}/login`, 303);
  });

  app.notFound((c) => (wantsJson(c) ? c.json({ error: { code: 'NOT_FOUND', message: 'No such route.' } }, 404) : c.html(messagePage(context, 'Not found', 'No such page.').text, 404)));

  return Object.assign(app, {
    liveConnections: () => live.connectionCount,
    close: async () => {
      live.close();
      await ownScheduler?.close();
    },
  });
}

/** `; Secure` when the browser came over HTTPS (directly, or through a proxy that says so), so the cookie never travels in clear. */
function secure(c: Context<DashboardEnv>): string {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https' ? '; Secure' : '';
}

/** Where to go after login: a page of this dashboard, never another site (`//evil`, `/\evil`). */
function safeNext(next: string | undefined, base: string): string {
  if (next !== undefined && next.startsWith(`${base}/`) && !next.startsWith('//') && !next.includes('\\')) return next;
  return `${base}/`;
}

