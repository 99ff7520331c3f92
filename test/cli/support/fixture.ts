/**
 * The project the CLI tests run in: a config with a few jobs, and the same jobs defined here
 * so a test can put the store in a given state quickly, in-process, before asking the CLI.
 */
import { type Client, createClient, defineJob } from '../../../src/index.ts';

export const fixtureConfig = `import { defineConfig, defineJob } from 'jobsmith';
import { z } from 'zod';

const hello = defineJob({
  name: 'hello',
  queue: 'mail',
  schema: z.object({ name: z.string().min(1), user: z.object({ id: z.number() }).optional() }),
  async run({ name }, ctx) {
    await ctx.progress(50, 'writing');
    await ctx.log('greeting', { name });
    return { greeting: \`Hello, \${name}!\` };
  },
});

/** Returns its payload, so a test sees exactly what --param built. */
const echo = defineJob({
  name: 'echo',
  async run(payload: unknown) {
    return payload;
  },
});

const broken = defineJob({
  name: 'broken',
  maxAttempts: 1,
  async run() {
    throw new Error('the disk is full\\nsecond line of the message');
  },
});

export default defineConfig({
  jobs: [hello, echo, broken],
  schedules: [{ id: 'nightly', cron: '30 2 * * *', tz: 'Europe/Berlin', job: hello, payload: { name: 'night' } }],
});
`;

/** The config's jobs, as this process defines them (handlers that fail or succeed the same way). */
export const hello = defineJob({
  name: 'hello',
  queue: 'mail',
  async run({ name }: { name: string; user?: { id: number } }, ctx) {
    await ctx.progress(50, 'writing');
    await ctx.log('greeting', { name });
    return { greeting: `Hello, ${name}!` };
  },
});

export const echo = defineJob({
  name: 'echo',
  async run(payload: unknown) {
    return payload;
  },
});

export const broken = defineJob({
  name: 'broken',
  maxAttempts: 1,
  async run() {
    throw new Error('the disk is full\nsecond line of the message');
  },
});

export const fixtureJobs = [hello, echo, broken];

/** Opens a client on `url` knowing the fixture's jobs, runs `use`, closes it. */
export async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient({ backend: url, jobs: fixtureJobs });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** Claims the next job of `queue` under a lease held by `workerId`, as a worker would: the job is then `running`. */
export async function claimOne(client: Client, queue: string, name: string, workerId: string, leaseMs: number): Promise<string> {
  const backend = await client.backend();
  const { jobs } = await backend.claim({ queues: [queue], names: [name], limit: 1, workerId, leaseMs });
  if (jobs.length !== 1) throw new Error(`nothing to claim in ${queue}`);
  return jobs[0]!.id;
}
