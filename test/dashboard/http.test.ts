/**
 * The dashboard through `app.request()`, no socket: every route's auth decision, CSRF
 * refusals, the JSON API, path traversal, read-only mode, and markup in the store
 * rendered inert.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDashboard, type Dashboard, type DashboardOptions } from '../../src/dashboard/index.ts';
import { createWorker, type FlowChild, type FlowProgress, type JobRecord, type LiveWorker, step, type WaitExplanation } from '../../src/index.ts';
import { makeStore, mail, onerrorTag, report, scriptTag, type Store } from './fixture.ts';

const token = 'test-token-0123456789';
const origin = 'http://dash.test';

let store: Store;
let dashboard: Dashboard;

beforeEach(async () => {
  store = await makeStore();
});

afterEach(async () => {
  await dashboard?.close();
  await store.close();
});

function make(options: Partial<DashboardOptions> = {}): Dashboard {
  dashboard = createDashboard({ client: store.client, scheduler: store.scheduler, auth: { token }, ...options });
  return dashboard;
}

const bearer = { authorization: `Bearer ${token}` };
const request = (path: string, init: RequestInit = {}) => dashboard.request(`${origin}${path}`, init);

/** Signs in through the form and loads a page: the cookies and the CSRF token a browser would hold. */
async function browserSession(base = ''): Promise<{ cookie: string; csrf: string }> {
  const login = await request(`${base}/login`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}&next=${base}/` });
  expect(login.status).toBe(303);
  const session = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await request(`${base}/`, { headers: { cookie: session } });
  expect(page.status).toBe(200);
  const csrfCookie = page.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())![1]!;
  return { cookie: `${session}; ${csrfCookie}`, csrf };
}

const pagePaths = () => ['/', '/jobs', '/jobs?state=failed', `/jobs/${store.ids.failed}`, `/jobs/${store.ids.queued[0]}`, '/failed', '/queues', '/schedules', '/workers'];
const apiReads = () => ['/api/stats', '/api/jobs', `/api/jobs/${store.ids.failed}`, `/api/jobs/${store.ids.queued[0]}/why`, '/api/failed', '/api/queues', '/api/schedules', '/api/workers', '/api/csrf'];
const apiWrites = () => [
  `/api/jobs/${store.ids.failed}/retry`,
  `/api/jobs/${store.ids.queued[0]}/cancel`,
  `/api/jobs/${store.ids.completed}/delete`,
  '/api/failed/retry',
  '/api/failed/flush',
  '/api/queues/mail/pause',
  '/api/queues/mail/resume',
  '/api/schedules/digest/enable',
  '/api/schedules/nightly-report/disable',
  '/api/schedules/nightly-report/run',
];

describe('auth: every route has a decision', () => {
  it('with a token: pages send you to the login form, the API, the event stream and static files answer 401', async () => {
    make();
    for (const path of pagePaths()) {
      const response = await request(path);
      expect(response.status, path).toBe(302);
      expect(response.headers.get('location'), path).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    for (const path of [...apiReads(), '/events', '/static/dashboard.js', '/static/vendor/htmx/htmx.min.js']) {
      const response = await request(path);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate'), path).toContain('Bearer');
    }
    for (const path of apiWrites()) expect((await request(path, { method: 'POST', headers: { origin } })).status, path).toBe(401);
    // Public: the login form and the stylesheet it uses, nothing else.
    expect((await request('/login')).status).toBe(200);
    expect((await request('/static/dashboard.css')).status).toBe(200);
    // Nothing changed.
    expect((await store.client.get(store.ids.failed)).state).toBe('failed');
  });

  it('with a token: a Bearer header opens every read, a wrong one does not', async () => {
    make();
    for (const path of [...pagePaths(), ...apiReads(), '/static/dashboard.js']) expect((await request(path, { headers: bearer })).status, path).toBe(200);
    expect((await request('/api/stats', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const events = new AbortController();
    const stream = await request('/events', { headers: bearer, signal: events.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    events.abort();
  });

  it('the login form sets an HttpOnly, SameSite=Strict session cookie, and refuses a wrong token', async () => {
    make();
    const wrong = await request('/login', { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const right = await request('/login', { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}&next=//evil.example/` });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/');
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(token);
    expect((await request('/api/stats', { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
    expect(cookie).not.toMatch(/Secure/);
    const overHttps = await dashboard.request('https://dash.test/login', { method: 'POST', headers: { origin: 'https://dash.test', 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
    expect(overHttps.headers.get('set-cookie')).toMatch(/; Secure$/);
    const forged = await request('/login', { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
    expect(forged.status).toBe(403);
  });

  it('basic auth: a challenge without credentials, 200 with the right ones, 401 with wrong ones', async () => {
    make({ auth: { username: 'ops', password: 'hunter22' } });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    for (const path of [...pagePaths(), ...apiReads(), '/events', '/static/dashboard.js']) {
      const response = await request(path);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate'), path).toMatch(/^Basic realm=/);
    }
    expect((await request('/', { headers: basic('ops', 'hunter22') })).status).toBe(200);
    expect((await request('/api/stats', { headers: basic('ops', 'wrong') })).status).toBe(401);
    expect((await request('/api/stats', { headers: basic('root', 'hunter22') })).status).toBe(401);
  });

  it('your own auth function decides every request', async () => {
    const seen: string[] = [];
    make({ auth: (req) => { seen.push(new URL(req.url).pathname); return req.headers.get('x-user') === 'admin'; } });
    for (const path of [...pagePaths(), ...apiReads(), '/events', '/static/dashboard.js']) {
      expect((await request(path)).status, path).toBe(401);
      expect((await request(path, { headers: { 'x-user': 'admin' }, ...(path === '/events' ? { signal: AbortSignal.timeout(200) } : {}) })).status, path).toBe(200);
    }
    expect(seen).toContain('/static/dashboard.js');
    expect(seen).toContain('/events');
  });

  it('without auth: only loopback peers with a loopback Host; anyone else, or an unknown peer, gets 403', async () => {
    make({ auth: undefined });
    const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } }) as never;
    expect((await dashboard.request('http://localhost:4000/api/stats', {}, from('127.0.0.1'))).status).toBe(200);
    expect((await dashboard.request('http://[::1]:4000/', {}, from('::1'))).status).toBe(200);
    expect((await dashboard.request('http://localhost:4000/api/stats', {}, from('10.0.0.7'))).status).toBe(403);
    // DNS rebinding: a loopback peer, but a page of another site asking.
    expect((await dashboard.request('http://evil.example/api/stats', {}, from('127.0.0.1'))).status).toBe(403);
    // No socket to look at (app.request, Next.js): refused, not trusted.
    const unknown = await dashboard.request('http://localhost/');
    expect(unknown.status).toBe(403);
    expect(await unknown.text()).toContain('no auth configured');
  });

  it('refuses an address that sent too many wrong credentials, with 429 and Retry-After, even with the right one; others still get in', async () => {
    make({ authFailureLimit: { failures: 3, windowMs: 60_000 } });
    const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } }) as never;
    const form = (value: string) => ({ method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${value}` });
    const guesser = from('203.0.113.9');
    expect((await dashboard.request(`${origin}/login`, form('guess-1'), guesser)).status).toBe(401);
    expect((await dashboard.request(`${origin}/api/stats`, { headers: { authorization: 'Bearer guess-2' } }, guesser)).status).toBe(401);
    expect((await dashboard.request(`${origin}/login`, form('guess-3'), guesser)).status).toBe(401);
    // The third wrong one locked the address: the right token is refused too, by every path.
    const locked = await dashboard.request(`${origin}/login`, form(token), guesser);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(await locked.json()).toMatchObject({ error: { code: 'TOO_MANY_ATTEMPTS' } });
    expect((await dashboard.request(`${origin}/api/stats`, { headers: bearer }, guesser)).status).toBe(429);
    // Another address is not held back by it.
    expect((await dashboard.request(`${origin}/api/stats`, { headers: bearer }, from('198.51.100.4'))).status).toBe(200);
    // A stale session cookie is no guess: a browser resends it by itself, so it never locks anyone out.
    const browser = from('192.0.2.1');
    for (let n = 0; n < 5; n++) expect((await dashboard.request(`${origin}/api/stats`, { headers: { cookie: 'jobsmith_session=stale' } }, browser)).status).toBe(401);
    expect((await dashboard.request(`${origin}/login`, form(token), browser)).status).toBe(303);
    // A right credential clears the count: two wrong, one right, two wrong is not three in a row.
    const typo = from('192.0.2.2');
    for (const value of ['typo-1', 'typo-2', token, 'typo-3', 'typo-4']) await dashboard.request(`${origin}/login`, form(value), typo);
    expect((await dashboard.request(`${origin}/login`, form(token), typo)).status).toBe(303);
  });

  it('authFailureLimit: false turns the lockout off; a bad limit is refused', async () => {
    make({ authFailureLimit: false });
    const from = { incoming: { socket: { remoteAddress: '203.0.113.10' } } } as never;
    for (let n = 0; n < 15; n++) expect((await dashboard.request(`${origin}/api/stats`, { headers: { authorization: `Bearer wrong-${n}` } }, from)).status).toBe(401);
    expect((await dashboard.request(`${origin}/api/stats`, { headers: bearer }, from)).status).toBe(200);
    expect(() => createDashboard({ client: store.client, auth: { token }, authFailureLimit: { failures: 0 } })).toThrow(/authFailureLimit.failures/);
    expect(() => createDashboard({ client: store.client, auth: { token }, authFailureLimit: { windowMs: 10 } })).toThrow(/authFailureLimit.windowMs/);
  });

  it('refuses auth options that would be easy to guess or to misread', () => {
    expect(() => createDashboard({ client: store.client, auth: { token: 'short' } })).toThrow(/auth.token/);
    expect(() => createDashboard({ client: store.client, auth: { username: 'a:b', password: 'x' } })).toThrow(/auth/);
    expect(() => createDashboard({ client: store.client, basePath: 'no-slash' })).toThrow(/basePath/);
  });
});

describe('CSRF', () => {
  it('a browser session must send the token from its page, and from this origin', async () => {
    make();
    const { cookie, csrf } = await browserSession();
    const retry = (headers: Record<string, string>) => request(`/api/jobs/${store.ids.failed}/retry`, { method: 'POST', headers: { cookie, ...headers } });
    const missing = await retry({ origin });
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('CSRF');
    expect((await retry({ origin, 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await retry({ origin: 'https://evil.example', 'x-csrf-token': csrf })).status).toBe(403);
    expect((await retry({ 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf })).status).toBe(403);
    expect((await store.client.get(store.ids.failed)).state).toBe('failed');
    // Another browser's token does not fit this browser's cookie.
    const other = await browserSession();
    expect((await retry({ origin, 'x-csrf-token': other.csrf })).status).toBe(403);
    expect((await retry({ origin, 'x-csrf-token': csrf })).status).toBe(200);
    expect((await store.client.get(store.ids.failed)).state).toBe('queued');
  });

  it('a form may send the token as a field', async () => {
    make();
    const { cookie, csrf } = await browserSession();
    const response = await request('/api/queues/mail/pause', { method: 'POST', headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` });
    expect(response.status).toBe(200);
    expect((await store.client.stats()).queues.find((queue) => queue.queue === 'mail')!.paused).toBe(true);
  });

  it('a Bearer header needs no token (no browser sends it by itself), but a foreign Origin is still refused', async () => {
    make();
    expect((await request('/api/queues/mail/pause', { method: 'POST', headers: { ...bearer, origin: 'https://evil.example' } })).status).toBe(403);
    expect((await request('/api/queues/mail/pause', { method: 'POST', headers: bearer })).status).toBe(200);
  });

  it('writes are never GET, and other methods are refused', async () => {
    make();
    for (const path of apiWrites()) expect((await request(path, { headers: bearer })).status, path).toBe(404);
    expect((await request(`/api/jobs/${store.ids.completed}`, { method: 'DELETE', headers: bearer })).status).toBe(405);
    expect((await store.client.get(store.ids.completed)).state).toBe('completed');
  });
});

describe('the JSON API', () => {
  const post = (path: string) => request(path, { method: 'POST', headers: bearer });
  const json = async <T>(response: Response | Promise<Response>): Promise<T> => {
    const answer = await response;
    expect(answer.status, await answer.clone().text()).toBe(200);
    return (await answer.json()) as T;
  };

  it('lists jobs by cursor, filtered by state, queue, name and id prefix', async () => {
    make();
    const all = await json<{ jobs: JobRecord[] }>(request('/api/jobs?limit=500', { headers: bearer }));
    expect(all.jobs).toHaveLength(10);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { jobs: JobRecord[]; nextCursor: string | null } = await json(request(`/api/jobs?name=report&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: bearer }));
      seen.push(...page.jobs.map((job) => job.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual([...store.ids.queued].sort());
    expect((await json<{ jobs: JobRecord[] }>(request('/api/jobs?state=failed', { headers: bearer }))).jobs.map((job) => job.id)).toEqual([store.ids.failed]);
    expect((await json<{ jobs: JobRecord[] }>(request('/api/jobs?queue=mail', { headers: bearer }))).jobs).toHaveLength(2);
    expect((await json<{ jobs: JobRecord[] }>(request(`/api/jobs?id=${store.ids.failed.slice(0, 30)}`, { headers: bearer }))).jobs.map((job) => job.id)).toEqual([store.ids.failed]);
    expect((await json<{ jobs: JobRecord[] }>(request('/api/jobs?id=ffffffff', { headers: bearer }))).jobs).toEqual([]);
    const bad = await request('/api/jobs?state=sleeping', { headers: bearer });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_OPTION');
  });

  it('reads a job, and 404s an unknown one', async () => {
    make();
    const job = await json<JobRecord>(request(`/api/jobs/${store.ids.failed}`, { headers: bearer }));
    expect(job.error!.message).toContain('mailbox full');
    const missing = await request('/api/jobs/00000000-0000-7000-8000-000000000000', { headers: bearer });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
  });

  it("a job's page and its API show every attempt: worker, duration, outcome, error with its stack folded, the backoff, and the timeline of them", async () => {
    make();
    const { backend } = store;
    const { id } = await store.client.enqueue(mail, { to: 'carol@example.com' });
    const claim = async (workerId: string) => (await backend.claim({ workerId, leaseMs: 1000, queues: ['mail'], names: ['send-mail'], limit: 1 })).jobs[0]!;
    const first = await claim('worker-a');
    const error = { name: 'Error', message: 'smtp refused\nsecond line', stack: 'Error: smtp refused\n    at send (mail.ts:10:5)', at: backend.now(), attempt: 1 };
    const retryAt = error.at + 5;
    await backend.settle([{ id, token: first.lease.token, kind: 'retry', error, runAt: retryAt, countAttempt: true }]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = await claim('worker-b');
    await backend.settle([{ id, token: second.lease.token, kind: 'complete', result: { sent: true }, expiresAt: null }]);

    const job = await json<JobRecord>(request(`/api/jobs/${id}`, { headers: bearer }));
    expect(job.attemptHistory).toEqual([{ attempt: 1, workerId: 'worker-a', startedAt: first.startedAt, endedAt: error.at, outcome: 'failed', error, retryAt }]);
    const page = await (await request(`/jobs/${id}`, { headers: bearer })).text();
    const attempts = /<section class="attempts">[\s\S]*?<\/section>/.exec(page)![0];
    expect(attempts).toMatch(/<tr data-attempt="1" data-outcome="failed"><td class="num">1<\/td><td>failed<\/td><td class="mono">worker-a<\/td>/);
    expect(attempts).toMatch(/<details class="attempt-error"><summary><b>Error<\/b>: <span class="error-text">smtp refused<\/span><\/summary>\n<pre class="stack">Error: smtp refused\n {4}at send \(mail.ts:10:5\)<\/pre><\/details>/);
    expect(attempts).toContain('(backoff 5 ms)');
    expect(attempts).toMatch(/<tr data-attempt="2" data-outcome="completed">/);
    const timeline = /<ol class="timeline">([\s\S]*?)<\/ol>/.exec(page)![1]!.split('</li>').map((item) => item.replace(/<[^>]+>/g, '').replace(/^\s*just now\s*/, '').trim()).filter(Boolean);
    expect(timeline).toEqual([
      'enqueued in queue mail',
      'attempt 1 started on worker worker-a',
      expect.stringMatching(/^attempt 1 failed after \d+ ms: Error: smtp refused; retry in 5 ms$/),
      'retry became due after a backoff of 5 ms',
      expect.stringMatching(/^attempt 2 started, took \d+ ms$/),
      'finished: completed',
    ]);
  });

  it('retries, cancels and deletes jobs; a refused one is 409', async () => {
    make();
    expect((await json<JobRecord>(post(`/api/jobs/${store.ids.failed}/retry`))).state).toBe('queued');
    expect((await post(`/api/jobs/${store.ids.completed}/retry`)).status).toBe(409);
    expect((await json<{ outcome: string }>(post(`/api/jobs/${store.ids.queued[0]}/cancel`))).outcome).toBe('cancelled');
    expect(await json(post(`/api/jobs/${store.ids.completed}/delete`))).toEqual({ id: store.ids.completed, deleted: true });
    await expect(store.client.get(store.ids.completed)).rejects.toThrow(/No job/);
  });

  it('retries every failed job, and flushes them', async () => {
    make();
    expect(await json(post('/api/failed/retry'))).toEqual({ retried: 1, skipped: 0 });
    await store.client.cancel(store.ids.failed);
    const again = await store.client.runNow((await import('./fixture.ts')).mail, { to: 'x@example.com', fail: true });
    expect(await json(post('/api/failed/flush'))).toEqual({ deleted: 1 });
    await expect(store.client.get(again.metadata.id)).rejects.toThrow(/No job/);
    expect((await json<{ jobs: JobRecord[] }>(request('/api/failed', { headers: bearer }))).jobs).toEqual([]);
  });

  it('pauses and resumes queues', async () => {
    make();
    const overview = await (await request('/', { headers: bearer })).text();
    // The default queue's oldest waiting job became due when the fixture enqueued it: moments ago.
    expect(overview).toMatch(/<tr data-queue="default">[\s\S]*?<td class="oldest-waiting"><time datetime="[^"]+">(\d+ ms|\d+\.\d s)<\/time><\/td>/);
    expect(await json(post('/api/queues/default/pause'))).toEqual({ queue: 'default', paused: true });
    expect((await json<Array<{ queue: string; paused: boolean }>>(request('/api/queues', { headers: bearer }))).find((queue) => queue.queue === 'default')!.paused).toBe(true);
    await json(post('/api/queues/default/resume'));
    expect((await store.client.stats()).queues.find((queue) => queue.queue === 'default')!.paused).toBe(false);
  });

  it('lists schedules with the next run in their own zone; enables, disables and runs one now', async () => {
    make();
    const schedules = await json<Array<{ id: string; zone: string; nextRunInZone: string | null; enabled: boolean }>>(request('/api/schedules', { headers: bearer }));
    const nightly = schedules.find((schedule) => schedule.id === 'nightly-report')!;
    expect(nightly.zone).toBe('Europe/Berlin');
    expect(nightly.nextRunInZone).toMatch(/^\d{4}-\d\d-\d\d 02:00:00 GMT\+1$|^\d{4}-\d\d-\d\d 02:00:00 CES?T$/);
    expect(schedules.find((schedule) => schedule.id === 'digest')!.enabled).toBe(false);
    expect((await json<{ enabled: boolean }>(post('/api/schedules/digest/enable'))).enabled).toBe(true);
    expect((await json<{ enabled: boolean }>(post('/api/schedules/nightly-report/disable'))).enabled).toBe(false);
    const run = await json<{ id: string }>(post('/api/schedules/nightly-report/run'));
    expect((await store.client.get(run.id)).metadata).toMatchObject({ scheduleId: 'nightly-report', manual: true });
    expect((await post('/api/schedules/nope/enable')).status).toBe(404);
  });

  it('lists the live workers, and tells why a job is not running', async () => {
    make();
    expect(await json(request('/api/workers', { headers: bearer }))).toEqual([]);
    const queued = store.ids.queued[0]!;
    // No worker serves the default queue yet.
    const lonely = await json<WaitExplanation>(request(`/api/jobs/${queued}/why`, { headers: bearer }));
    expect(lonely.reasons.map((reason) => reason.code)).toContain('no-live-worker');
    const page = await (await request(`/jobs/${queued}`, { headers: bearer })).text();
    expect(page).toContain("Why isn't it running?");
    expect(page).toMatch(/<li class="blocking" data-code="no-live-worker">/);

    const worker = createWorker({ backend: store.backend, jobs: [mail], queues: ['mail'], concurrency: 3 });
    await worker.start();
    try {
      const [live] = await json<LiveWorker[]>(request('/api/workers', { headers: bearer }));
      expect(live).toMatchObject({ pid: process.pid, queues: ['mail'], names: ['send-mail'], concurrency: 3 });
      const workersPage = await (await request('/workers', { headers: bearer })).text();
      expect(workersPage).toContain(`data-worker="${live!.id}"`);
      await json(post('/api/queues/default/pause'));
      const paused = await json<WaitExplanation>(request(`/api/jobs/${queued}/why`, { headers: bearer }));
      expect(paused.reasons.find((reason) => reason.code === 'queue-paused')).toMatchObject({ blocking: true });
    } finally {
      await worker.stop();
    }
    // A finished job's page has no such panel.
    expect(await (await request(`/jobs/${store.ids.completed}`, { headers: bearer })).text()).not.toContain("Why isn't it running?");
  });

  it('answers htmx with HX-Trigger, so the page reloads its live part', async () => {
    make();
    const response = await request('/api/queues/mail/pause', { method: 'POST', headers: { ...bearer, 'hx-request': 'true' } });
    expect(response.headers.get('hx-trigger')).toBe('jobsmith-change');
  });
});

describe('flows', () => {
  /** The far-future mark a waiting parent's runAt holds: it must never show as a date. */
  const neverDue = /275760/;
  const section = (page: string, name: string) => new RegExp(`<section class="${name}"[\\s\\S]*?</section>`).exec(page)?.[0] ?? '';

  it('the overview and the queues page show parents waiting for their children apart from the delayed jobs; the JSON API counts them', async () => {
    make();
    await store.client.flow({ a: step(report, { month: '2026-01' }), b: step(report, { month: '2026-02' }), merge: step(report, { month: '2026-12' }, { children: ['a', 'b'] }) });
    const get = async (path: string) => {
      const response = await request(path, { headers: bearer });
      expect(response.status, path).toBe(200);
      return response;
    };
    // The fixture's default queue holds 3 delayed jobs; the flow adds a parent waiting for its 2 children there.
    const stats = (await (await get('/api/stats')).json()) as { counts: { scheduled: number }; waitingForChildren: number };
    expect(stats).toMatchObject({ counts: { scheduled: 4 }, waitingForChildren: 1 });
    const queues = (await (await get('/api/queues')).json()) as Array<{ queue: string; counts: { scheduled: number }; waitingForChildren: number }>;
    expect(queues.find((queue) => queue.queue === 'default')).toMatchObject({ counts: { scheduled: 4 }, waitingForChildren: 1 });
    expect(queues.find((queue) => queue.queue === 'mail')).toMatchObject({ waitingForChildren: 0 });

    const overview = await (await get('/')).text();
    expect(overview).toContain('<span class="count" data-state="scheduled">3</span><span class="label">scheduled</span>');
    expect(overview).toMatch(/<a class="card parents-waiting" href="\/jobs\?state=scheduled" title="[^"]+"><span class="count" data-count="waiting-for-children">1<\/span><span class="label">waiting for children<\/span><\/a>/);
    for (const page of [overview, await (await get('/queues')).text()]) {
      expect(page).toMatch(/<th class="num" title="delayed jobs waiting for their run time">scheduled<\/th><th class="num parents-waiting" title="[^"]+">waiting for children<\/th><th class="num">queued<\/th>/);
      expect(page).toMatch(/<tr data-queue="default">[\s\S]*?<td class="num">3<\/td><td class="num parents-waiting">1<\/td>/);
      expect(page).toMatch(/<tr data-queue="mail">[\s\S]*?<td class="num">0<\/td><td class="num parents-waiting">0<\/td>/);
    }
  });

  it("a parent's page shows its flow, what it waits for, its children linked with state and policy, and the flow's progress; listings show it waiting", async () => {
    make();
    const { client } = store;
    const { flowId, ids } = await client.flow({
      a: step(report, { month: '2026-01' }),
      b: step(report, { month: '2026-02' }),
      merge: step(report, { month: '2026-12' }, { children: ['a', { child: 'b', onChildFailure: 'ignore' }] }),
    });
    const get = async (path: string) => {
      const response = await request(path, { headers: bearer });
      expect(response.status, path).toBe(200);
      return response.text();
    };

    const parentPage = await get(`/jobs/${ids.merge}`);
    expect(parentPage).not.toMatch(neverDue);
    expect(parentPage).toContain('<tr><th>Run at</th><td><span class="waiting-for-children">waiting for 2 of 2 children</span></td></tr>');
    const flow = section(parentPage, 'flow');
    expect(flow).toContain(`<p class="flow-progress">Flow <a class="mono" href="/flows/${flowId}">${flowId}</a>: 0 of 3 jobs finished: 1 scheduled, 2 queued.</p>`);
    expect(flow).toContain('<p class="flow-waiting">This job is waiting for 2 of 2 children; it is queued when they have finished.</p>');
    expect(flow).not.toContain('flow-parents');
    const childRow = (id: string) => new RegExp(`<tr data-child-id="${id}">[\\s\\S]*?</tr>`).exec(flow)?.[0] ?? '';
    expect(childRow(ids.a)).toContain(`<a class="mono" href="/jobs/${ids.a}" title="${ids.a}">${ids.a.slice(0, 8)}</a>`);
    expect(childRow(ids.a)).toMatch(/<td class="name">report<\/td><td><span class="state state-queued">queued<\/span><\/td><td class="policy">fail<\/td>/);
    expect(childRow(ids.b)).toMatch(/<span class="state state-queued">queued<\/span><\/td><td class="policy">ignore<\/td>/);
    expect(flow.indexOf(ids.a)).toBeLessThan(flow.indexOf(ids.b));
    expect(section(parentPage, 'why')).toMatch(/<li class="blocking" data-code="waiting-for-children"><span class="mono">waiting-for-children<\/span> It is waiting for 2 of 2 children/);

    // A child: its flow, and that a job waits for it; no children of its own.
    const childPage = await get(`/jobs/${ids.a}`);
    expect(section(childPage, 'flow')).toContain('<p class="flow-parents">Other jobs of this flow wait for this one.</p>');
    expect(section(childPage, 'flow')).not.toContain('<table class="children">');
    // A job outside any flow has no such section.
    expect(await get(`/jobs/${store.ids.completed}`)).not.toContain('<section class="flow"');

    // The listing: the parent is scheduled, waiting, with no date in year 275760.
    const listing = await get('/jobs?state=scheduled');
    expect(listing).not.toMatch(neverDue);
    const parentRow = new RegExp(`<tr data-job-id="${ids.merge}">[\\s\\S]*?</tr>`).exec(listing)![0];
    expect(parentRow).toContain('<span class="state state-scheduled">scheduled</span>');
    expect(parentRow).toContain('<span class="waiting-for-children">waiting for 2 of 2 children</span>');

    // The JSON API: the children in order with their policies, and the flow's counts.
    const children = (await (await request(`/api/jobs/${ids.merge}/children`, { headers: bearer })).json()) as FlowChild[];
    expect(children.map((child) => [child.id, child.state, child.onChildFailure])).toEqual([
      [ids.a, 'queued', 'fail'],
      [ids.b, 'queued', 'ignore'],
    ]);
    const progress = (await (await request(`/api/flows/${flowId}`, { headers: bearer })).json()) as FlowProgress;
    expect(progress).toMatchObject({ flowId, total: 3, finished: 0, counts: { scheduled: 1, queued: 2 } });
    const missing = await request('/api/flows/00000000-0000-7000-8000-000000000000', { headers: bearer });
    expect(missing.status).toBe(404);

    // One child ends without completing (policy ignore): one left to wait for.
    await client.cancel(ids.b);
    const oneLeft = await get(`/jobs/${ids.merge}`);
    expect(oneLeft).toContain('<span class="waiting-for-children">waiting for 1 of 2 children</span>');
    expect(section(oneLeft, 'flow')).toContain('1 of 3 jobs finished: 1 scheduled, 1 queued, 1 cancelled.');
    expect(section(oneLeft, 'flow')).toMatch(new RegExp(`<tr data-child-id="${ids.b}">[\\s\\S]*?<span class="state state-cancelled">cancelled</span>`));

    // The other completes: the parent runs, and its page shows a finished flow.
    const worker = createWorker({ backend: store.backend, jobs: [report], concurrency: 2 });
    await worker.start();
    try {
      expect((await client.waitFor(ids.merge, { timeout: 10_000 })).state).toBe('completed');
    } finally {
      await worker.stop();
    }
    const done = await get(`/jobs/${ids.merge}`);
    expect(done).not.toMatch(neverDue);
    expect(section(done, 'flow')).toContain(`Flow <a class="mono" href="/flows/${flowId}">${flowId}</a>: 3 of 3 jobs finished: 2 completed, 1 cancelled.`);
    // The flow's own page: its counts by state.
    const flowPage = await get(`/flows/${flowId}`);
    expect(flowPage).toContain(`<span class="mono">${flowId}</span>: 3 of 3 jobs finished.`);
    expect(flowPage).toMatch(/<tr data-state="completed"><td><span class="state state-completed">completed<\/span><\/td><td class="num">2<\/td><\/tr>/);
    expect(flowPage).toMatch(/<tr data-state="cancelled">[\s\S]*?<td class="num">1<\/td><\/tr>/);
    expect(flowPage).toContain('<p class="flow-leaves">The jobs that wait for no other (a batch\'s items): 2 of 2 finished.</p>');
    expect((await request('/flows/00000000-0000-7000-8000-000000000000', { headers: bearer })).status).toBe(404);
    // Without credentials, the flow page sends you to sign in, as every page does.
    expect((await request(`/flows/${flowId}`)).status).toBe(302);

    // A child deleted after it finished: still listed, as deleted, with no link to a page that is gone.
    await client.delete(ids.b);
    const afterDelete = section(await get(`/jobs/${ids.merge}`), 'flow');
    expect(afterDelete).toContain(`<tr data-child-id="${ids.b}"><td><span class="mono" title="${ids.b}">${ids.b.slice(0, 8)}</span></td><td class="name">report</td><td><span class="muted">deleted</span></td><td class="policy">ignore</td>`);
    expect(afterDelete).toContain('2 of 2 jobs finished: 2 completed.');
    expect(section(done, 'flow')).not.toContain('flow-waiting');
    expect(section(done, 'flow')).toMatch(new RegExp(`<tr data-child-id="${ids.a}">[\\s\\S]*?<span class="state state-completed">completed</span>`));
  });
});

describe('static files', () => {
  it('serves the vendored files with their types, and nothing outside the folder', async () => {
    make();
    const htmx = await request('/static/vendor/htmx/htmx.min.js', { headers: bearer });
    expect(htmx.status).toBe(200);
    expect(htmx.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await htmx.text()).toContain('htmx');
    expect((await request('/static/vendor/uplot/LICENSE', { headers: bearer })).status).toBe(200);
    for (const path of [
      '/static/../create-dashboard.ts',
      '/static/%2e%2e/create-dashboard.ts',
      '/static/..%2fcreate-dashboard.ts',
      '/static/vendor/../../auth.ts',
      '/static/%2e%2e%2f%2e%2e%2fpackage.json',
      '/static//etc/passwd',
      '/static/vendor/htmx/..%5c..%5c..%5cauth.ts',
    ]) {
      const response = await dashboard.request(`${origin}${path}`, { headers: bearer });
      const text = await response.text();
      expect(response.status, path).not.toBe(200);
      expect(text, path).not.toContain('import');
    }
  });
});

describe('read-only mode', () => {
  it('shows no action and refuses every write', async () => {
    make({ readOnly: true });
    for (const path of pagePaths()) {
      const page = await (await request(path, { headers: bearer })).text();
      expect(page, path).not.toContain('hx-post');
      expect(page, path).toContain('read-only');
    }
    for (const path of apiWrites()) {
      const response = await request(path, { method: 'POST', headers: bearer });
      expect(response.status, path).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('READ_ONLY');
    }
    expect((await store.client.get(store.ids.failed)).state).toBe('failed');
  });
});

describe('rendering user data', () => {
  it('escapes markup in payloads, errors, logs, progress, names, queues and schedule ids, under a CSP without inline script', async () => {
    make();
    const pages = [...pagePaths(), `/jobs/${store.ids.hostile}`, '/jobs?state=queued', '/'];
    for (const path of pages) {
      const response = await request(path, { headers: bearer });
      expect(response.status, path).toBe(200);
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      const page = await response.text();
      expect(page, path).not.toContain(scriptTag);
      expect(page, path).not.toContain(onerrorTag);
      // Attribute values set aside (a `"` inside one is escaped, so each ends at the next `"`), no tag has an on* handler.
      expect(page.replace(/"[^"]*"/g, '""'), path).not.toMatch(/<script>|<img src=x|<[a-z][^>]*\son[a-z]+\s*=/i);
      // Every script element is a file of the dashboard's own.
      for (const [tag] of page.matchAll(/<script[^>]*>/g)) expect(tag, path).toMatch(/^<script src="\/static\/[\w./-]+" defer>$/);
    }
    const failed = await (await request(`/jobs/${store.ids.failed}`, { headers: bearer })).text();
    expect(failed).toContain('&lt;script&gt;window.__xss');
    expect(failed).toContain('&lt;img src=x onerror=');
    const schedules = await (await request('/schedules', { headers: bearer })).text();
    expect(schedules).toContain('s&lt;script&gt;');
    // The next runs in the schedule's own zone: 02:00 in Berlin, three nights running.
    const nightly = /<tr data-schedule="nightly-report">[\s\S]*?<\/tr>/.exec(schedules)![0];
    expect(nightly.match(/\d{4}-\d\d-\d\d 02:00:00 (GMT\+1|CET|CEST|GMT\+2)/g)).toHaveLength(3);
  });
});
