// The demo's jobs: one of each kind a real app has.
import { z } from 'zod';
import { Job, type JobContext, PermanentError, defineJob } from '../src/index.ts';

/** A plain job with a schema: the payload type comes from zod. */
export const welcomeEmail = defineJob({
  name: 'welcome-email',
  queue: 'mail',
  schema: z.object({ email: z.email(), name: z.string().min(1) }),
  maxAttempts: 5,
  async run({ email, name }, ctx) {
    await pause(150, ctx.signal);
    await ctx.log('sent welcome email', { email });
    return { to: email, subject: `Welcome, ${name}!` };
  },
});

/**
 * A job of durable steps, reporting progress through them: each step's result is stored with
 * the job, so a retry (or a restart that released it) resumes at the first step not finished.
 */
export const monthlyReport = defineJob({
  name: 'monthly-report',
  schema: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }),
  timeout: '30s',
  async run({ month }, ctx) {
    const phase = <T>(index: number, name: string, work: () => T) =>
      ctx.step(name, async () => {
        await ctx.progress(index * 25, name);
        await pause(400, ctx.signal);
        return work();
      });
    const period = await phase(0, 'validate', () => ({ month, days: new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).getUTCDate() }));
    const rows = await phase(1, 'collect', () => period.days * 41);
    const perDay = await phase(2, 'aggregate', () => Math.round(rows / period.days));
    const file = await phase(3, 'render', () => `reports/${month}.pdf`);
    await ctx.progress(100, 'done');
    return { month, rows, perDay, file };
  },
});

/** Fails twice, then succeeds on its third attempt: retries with backoff at work. */
export const flakyWebhook = defineJob({
  name: 'flaky-webhook',
  maxAttempts: 4,
  backoff: { type: 'exponential', delay: '500ms', max: '5s' },
  async run(payload: { url: string }, ctx) {
    if (ctx.attempt < 3) throw new Error(`${payload.url} answered 503 (attempt ${ctx.attempt})`);
    return { delivered: true, attempt: ctx.attempt };
  },
});

/** The class style: options on the class, `perform`, and a `failed` hook that runs once. */
export class ChargeCard extends Job<{ customer: string; cents: number }, { charged: number }> {
  static override options = { queue: 'billing', maxAttempts: 3 };

  async perform({ customer, cents }: { customer: string; cents: number }, ctx: JobContext) {
    await ctx.log('charging', { customer, cents });
    // A declined card will be declined again: fail at once, without retries.
    if (cents > 10_000) throw new PermanentError(`card of ${customer} declined for ${cents} cents`);
    return { charged: cents };
  }

  override async failed({ customer }: { customer: string; cents: number }, error: unknown) {
    console.log(`  ↳ failed hook: telling ${customer} their payment did not go through (${(error as Error).message})`);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** Run by the scheduler: a small digest every 15 seconds. */
export const queueDigest = defineJob({
  name: 'queue-digest',
  maxAttempts: 1,
  async run(_payload: null, ctx) {
    return { at: new Date().toISOString(), scheduledFor: ctx.metadata.scheduledFor ?? null };
  },
});

/** One item of a batch: a thumbnail of one photo. */
export const makeThumbnail = defineJob({
  name: 'make-thumbnail',
  queue: 'media',
  schema: z.object({ photo: z.string().min(1), width: z.number().int().positive() }),
  async run({ photo, width }, ctx) {
    await pause(100 + Math.round(Math.random() * 300), ctx.signal);
    return { thumbnail: photo.replace(/(\.\w+)?$/, `-${width}w$1`) };
  },
});

/**
 * A batch's `onComplete` callback: runs once, when every thumbnail of the album has finished
 * (however each ended), and reads how they did and what they returned.
 */
export const albumReady = defineJob({
  name: 'album-ready',
  queue: 'media',
  schema: z.object({ album: z.string().min(1) }),
  async run({ album }, ctx) {
    const { total, completed, failedIds } = await ctx.childrenSummary();
    const thumbnails = (await ctx.children(makeThumbnail)).flatMap((child) => (child.result === null ? [] : [child.result.thumbnail]));
    return { album, total, completed, failed: failedIds.length, thumbnails };
  },
});
