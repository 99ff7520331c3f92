/**
 * Over real sockets: the server-sent events stream (one backend subscription however many
 * pages are open, heartbeats, changes, and every listener gone once the pages disconnect),
 * serveDashboard's loopback rule, and the dashboard mounted under a path in a plain
 * `node:http` server and in Express.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createDashboard, serveDashboard, toNodeListener } from '../../src/dashboard/index.ts';
import { MemoryBackend } from '../../src/index.ts';
import { waitFor } from '../support/wait.ts';
import { makeStore, report, type Store } from './fixture.ts';

const token = 'live-token-0123456789';
const bearer = { authorization: `Bearer ${token}` };
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves once `check` holds. */
function waitUntil(check: () => boolean, options: { timeoutMs: number; what: string }): Promise<void> {
  return waitFor(async () => {
    if (!check()) throw new Error('not yet');
  }, options);
}

/** A memory backend that counts the subscriptions held on it. */
function countingBackend(): { backend: MemoryBackend; active: () => number } {
  const backend = new MemoryBackend();
  let active = 0;
  const subscribe = backend.subscribe!.bind(backend);
  backend.subscribe = (listener) => {
    active++;
    const unsubscribe = subscribe(listener);
    let done = false;
    return () => {
      if (!done) active--;
      done = true;
      unsubscribe();
    };
  };
  return { backend, active: () => active };
}

async function storeOn(backend: MemoryBackend): Promise<Store> {
  const store = await makeStore(backend);
  cleanups.push(() => store.close());
  return store;
}

/** Reads an event stream's text as it comes. */
function reader(response: Response): { text: () => string; until: (what: string) => Promise<void> } {
  let text = '';
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of response.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
    } catch {
      // Aborted by the test.
    }
  })();
  return { text: () => text, until: (what) => waitUntil(() => text.includes(what), { timeoutMs: 10_000, what }) };
}

describe('server-sent events', () => {
  it('share one subscription, send heartbeats and changes, and let go of every listener when the pages disconnect', async () => {
    const { backend, active } = countingBackend();
    const store = await storeOn(backend);
    const served = await serveDashboard({ client: store.client, auth: { token }, port: 0, live: { heartbeatMs: 100, coalesceMs: 20, pollMs: 60_000 } });
    cleanups.push(() => served.close());
    const baseline = active();
    const pages = await Promise.all(
      [1, 2, 3].map(async () => {
        const controller = new AbortController();
        const response = await fetch(`${served.url}events`, { headers: bearer, signal: controller.signal });
        expect(response.status).toBe(200);
        return { controller, stream: reader(response) };
      }),
    );
    for (const page of pages) await page.stream.until('event: hello');
    expect(served.dashboard.liveConnections()).toBe(3);
    await waitUntil(() => active() === baseline + 1, { timeoutMs: 5000, what: 'one subscription for every page' });
    for (const page of pages) await page.stream.until('event: heartbeat');
    await store.client.enqueue(report, { month: 'live' });
    for (const page of pages) await page.stream.until('event: change');

    for (const page of pages) page.controller.abort();
    await waitUntil(() => served.dashboard.liveConnections() === 0, { timeoutMs: 5000, what: 'every stream closed on the server' });
    expect(active()).toBe(baseline);

    // Pages come and go for a while: nothing piles up.
    for (let round = 0; round < 20; round++) {
      const controller = new AbortController();
      const stream = reader(await fetch(`${served.url}events`, { headers: bearer, signal: controller.signal }));
      await stream.until('event: hello');
      controller.abort();
    }
    await waitUntil(() => served.dashboard.liveConnections() === 0 && active() === baseline, { timeoutMs: 5000, what: 'no listener left after 20 visits' });
  });
});

describe('serveDashboard', () => {
  it('without auth listens on loopback only, says so, and refuses a public address', async () => {
    const store = await storeOn(new MemoryBackend());
    const notes: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (_fields: Record<string, unknown>, message: string) => notes.push(message) };
    const served = await serveDashboard({ client: store.client, port: 0, logger });
    cleanups.push(() => served.close());
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(notes.join('\n')).toContain('serves loopback only');
    const page = await fetch(served.url.replace('127.0.0.1', 'localhost'));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Overview</h1>');
    await expect(serveDashboard({ client: store.client, port: 0, host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function checkMounted(root: string, store: Store): Promise<void> {
  const page = await fetch(`${root}/ops/jobs/`, { headers: bearer });
  expect(page.status).toBe(200);
  const text = await page.text();
  expect(text).toContain('<h1>Overview</h1>');
  expect(text).toContain('href="/ops/jobs/queues"');
  expect(text).toContain('src="/ops/jobs/static/vendor/htmx/htmx.min.js"');
  expect((await fetch(`${root}/ops/jobs/static/vendor/htmx/htmx.min.js`, { headers: bearer })).status).toBe(200);
  const failed = (await (await fetch(`${root}/ops/jobs/api/jobs?state=failed`, { headers: bearer })).json()) as { jobs: Array<{ id: string }> };
  expect(failed.jobs.map((job) => job.id)).toEqual([store.ids.failed]);
  const retried = await fetch(`${root}/ops/jobs/api/jobs/${store.ids.failed}/retry`, { method: 'POST', headers: bearer });
  expect(retried.status).toBe(200);
  expect((await store.client.get(store.ids.failed)).state).toBe('queued');
  // The host app keeps its own routes.
  expect(await (await fetch(`${root}/`)).text()).toBe('the host app');
  // Signing in through the form under the base path.
  const login = await fetch(`${root}/ops/jobs/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: root }, body: `token=${token}&next=/ops/jobs/queues` });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toBe('/ops/jobs/queues');
  expect(login.headers.get('set-cookie')).toContain('Path=/ops/jobs');
}

describe('mounted under a path', () => {
  it('in a plain node:http server', async () => {
    const store = await storeOn(new MemoryBackend());
    const dashboard = createDashboard({ client: store.client, auth: { token }, basePath: '/ops/jobs' });
    cleanups.push(() => dashboard.close());
    const listener = toNodeListener(dashboard);
    const root = await listen(
      createServer((request, response) => {
        if (request.url?.startsWith('/ops/jobs')) return void listener(request, response);
        response.end('the host app');
      }),
    );
    await checkMounted(root, store);
  });

  it('in Express', async () => {
    const store = await storeOn(new MemoryBackend());
    const dashboard = createDashboard({ client: store.client, auth: { token }, basePath: '/ops/jobs' });
    cleanups.push(() => dashboard.close());
    const app = express();
    app.use('/ops/jobs', toNodeListener(dashboard));
    app.get('/', (_request, response) => void response.send('the host app'));
    await checkMounted(await listen(createServer(app)), store);
  });
});
