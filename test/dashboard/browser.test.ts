/**
 * The dashboard in a real browser: playwright-core driving Debian's chromium (installed by
 * .ci/run; no browser download). Clicks through every page, retries a failed job and sees
 * it complete without a reload, pauses and resumes a queue, disables and enables a
 * schedule, and checks that markup in the store never runs (an `alert` would be caught by
 * the dialog listener; the DOM holds it as text). Each page's screenshot goes to
 * test-results/ for a person to look at; UPDATE_DOCS_SCREENSHOT=1 also writes the README's
 * docs/dashboard.png.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Dialog, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDashboard, type ServedDashboard } from '../../src/dashboard/index.ts';
import { createWorker, defineJob, step, type Worker } from '../../src/index.ts';
import { isCI } from '../support/index.ts';
import { addMarkup, makeStore, mail, report, type Store } from './fixture.ts';

const executablePath = '/usr/bin/chromium';
const hasChromium = existsSync(executablePath);
if (!hasChromium && isCI()) throw new Error(`${executablePath} is missing: .ci/run installs Debian's chromium package; under CI a missing browser is a failure, not a skip`);

const repoRoot = join(import.meta.dirname, '..', '..');
const resultsDir = join(repoRoot, 'test-results');
const token = 'browser-token-0123456789';

/** Fails until the test says otherwise, so a retry can succeed. */
let webhookHealthy = false;
const webhook = defineJob({
  name: 'post-webhook',
  queue: 'hooks',
  maxAttempts: 1,
  async run(payload: { url: string }) {
    if (!webhookHealthy) throw new Error(`connection refused by ${payload.url}`);
    return { delivered: payload.url };
  },
});

describe.skipIf(!hasChromium)('the dashboard in chromium', { timeout: 120_000 }, () => {
  let store: Store;
  let served: ServedDashboard;
  let worker: Worker;
  let browser: Browser;
  let page: Page;
  let failedWebhook: string;
  const alerts: string[] = [];
  const cspErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(resultsDir, { recursive: true });
    // The markup comes later, so the README's screenshot shows an ordinary store.
    store = await makeStore(undefined, { markup: false });
    failedWebhook = (await store.client.runNow(webhook, { url: 'https://hooks.example.com/orders' })).metadata.id;
    // Some finished work for the chart.
    for (let index = 0; index < 12; index++) await store.client.runNow(report, { month: `2025-${String(index + 1).padStart(2, '0')}` });
    // A parent waiting for its two children (no worker here serves their queue), shown apart from the delayed jobs.
    await store.client.flow({
      january: step(report, { month: '2026-01' }),
      february: step(report, { month: '2026-02' }),
      quarter: step(report, { month: '2026-Q1' }, { children: ['january', 'february'] }),
    });
    worker = createWorker({ backend: store.backend, jobs: [webhook, mail], queues: ['hooks', 'mail'], concurrency: 2 });
    await worker.start();
    served = await serveDashboard({ client: store.client, scheduler: store.scheduler, auth: { token }, port: 0 });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog: Dialog) => {
      // Our confirmations are accepted; any alert is markup that ran.
      if (dialog.type() === 'confirm') return void dialog.accept();
      alerts.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await worker?.stop();
    await store?.close();
  });

  const shot = async (name: string) => page.screenshot({ path: join(resultsDir, `dashboard-${name}.png`), fullPage: true });
  // Functions run in the page are given as text: this project compiles without the DOM's types.
  // Polled from the test, not with waitForFunction: its string predicate is eval'd in the page, which the CSP forbids.
  const live = () => expect.poll(() => page.locator('#live-status').textContent(), { timeout: 20_000 }).toBe('live');

  it('signs in with the token and shows the overview, live, with its chart', async () => {
    await page.goto(`${served.url}jobs`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot('login');
    await page.fill('input[name=token]', 'wrong-token-0123456789');
    await page.click('button[type=submit]');
    await expect(page.locator('.problem').textContent()).resolves.toContain('not right');
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.waitForURL(`${served.url}jobs`);
    await page.click('nav >> text=Overview');
    await page.waitForSelector('#throughput-chart canvas');
    await live();
    expect(await page.locator('.count[data-state=completed]').textContent()).toBe('13');
    expect(await page.locator('.count[data-state=scheduled]').textContent()).toBe('3');
    expect(await page.locator('.count[data-count=waiting-for-children]').textContent()).toBe('1');
    await shot('overview');
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(join(resultsDir, 'dashboard-overview.png'), join(repoRoot, 'docs', 'dashboard.png'));
  });

  it('clicks through every page', async () => {
    for (const [label, heading, name] of [
      ['Jobs', 'Jobs', 'jobs'],
      ['Failed', 'Failed jobs', 'failed'],
      ['Queues', 'Queues', 'queues'],
      ['Schedules', 'Schedules', 'schedules'],
      ['Workers', 'Workers', 'workers'],
    ] as const) {
      await page.click(`nav >> text=${label}`);
      await expect(page.locator('h1').textContent()).resolves.toBe(heading);
      await shot(name);
    }
    expect(await page.locator('tr[data-worker]').count()).toBe(1);
    await page.goto(`${served.url}jobs?state=scheduled`);
    // The newest scheduled job is the parent waiting for its children; the one below it is delayed.
    await page.click('table.jobs tbody tr:not(:has(.waiting-for-children)) a');
    await expect(page.locator('#why h2').textContent()).resolves.toBe("Why isn't it running?");
    await expect(page.locator('#why li[data-code=delayed]').count()).resolves.toBe(1);
    await shot('job-waiting');
    // Paging by cursor: 50 a page; the fixture has fewer, so one page and no "next".
    await page.goto(`${served.url}jobs`);
    expect(await page.locator('a[rel=next]').count()).toBe(0);
  });

  it('retries a failed job and watches it complete without a reload', async () => {
    webhookHealthy = true;
    await page.goto(`${served.url}jobs/${failedWebhook}`);
    await live();
    await expect(page.locator('.fields .state').textContent()).resolves.toBe('failed');
    await shot('job-failed');
    await page.evaluate('window.sameDocument = true');
    await page.click('button[data-action=retry]');
    await expect.poll(() => page.locator('.fields .state').textContent(), { timeout: 20_000 }).toBe('completed');
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    await expect(page.locator('section h2', { hasText: 'Result' }).count()).resolves.toBe(1);
    await shot('job-completed');
  });

  it('pauses and resumes a queue', async () => {
    await page.goto(`${served.url}queues`);
    await live();
    const row = page.locator('tr[data-queue=mail]');
    await row.locator('button[data-action=pause]').click();
    await page.waitForSelector('tr[data-queue=mail] .paused');
    expect((await store.client.stats()).queues.find((queue) => queue.queue === 'mail')!.paused).toBe(true);
    await shot('queue-paused');
    await page.locator('tr[data-queue=mail] button[data-action=resume]').click();
    await page.waitForSelector('tr[data-queue=mail] .active-queue');
    expect((await store.client.stats()).queues.find((queue) => queue.queue === 'mail')!.paused).toBe(false);
  });

  it('disables and enables a schedule', async () => {
    await page.goto(`${served.url}schedules`);
    await page.locator('tr[data-schedule=nightly-report] button[data-action=disable]').click();
    await page.waitForSelector('tr[data-schedule=nightly-report] .disabled');
    expect((await store.scheduler.get('nightly-report')).enabled).toBe(false);
    await page.locator('tr[data-schedule=nightly-report] button[data-action=enable]').click();
    await page.waitForSelector('tr[data-schedule=nightly-report] .enabled');
    expect((await store.scheduler.get('nightly-report')).enabled).toBe(true);
  });

  it('renders markup from the store inert: no alert, no injected element, the text shown as text', async () => {
    Object.assign(store.ids, await addMarkup(store.backend, store.scheduler));
    for (const path of ['', 'jobs', `jobs/${store.ids.failed}`, `jobs/${store.ids.hostile}`, 'failed', 'queues', 'schedules']) {
      await page.goto(`${served.url}${path}`);
      await page.waitForLoadState('load');
      const dom = (await page.evaluate(`({
        ran: window.__xss ?? 0,
        images: document.querySelectorAll('img').length,
        scripts: [...document.querySelectorAll('script')].map((script) => script.getAttribute('src')),
        handlers: [...document.querySelectorAll('*')].filter((element) => [...element.attributes].some((attribute) => attribute.name.startsWith('on'))).length,
        text: document.body.innerText,
      })`)) as { ran: number; images: number; scripts: Array<string | null>; handlers: number; text: string };
      expect(dom.ran, path).toBe(0);
      expect(dom.images, path).toBe(0);
      expect(dom.handlers, path).toBe(0);
      expect(dom.scripts.every((src) => src !== null && src.startsWith('/static/')), path).toBe(true);
      if (path === `jobs/${store.ids.failed}`) {
        expect(dom.text).toContain('<script>window.__xss');
        expect(dom.text).toContain('<img src=x onerror=');
        await shot('job-markup');
      }
      if (path === 'schedules') expect(dom.text).toContain('s<script>');
    }
    expect(alerts).toEqual([]);
  });

  it('signs out, after which pages ask for the token again', async () => {
    await page.goto(`${served.url}queues`);
    await page.click('.sign-out button');
    await page.waitForURL(`${served.url}login`);
    await page.goto(`${served.url}queues`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });

  it('loads nothing the CSP refuses', () => {
    expect(cspErrors).toEqual([]);
  });
});
