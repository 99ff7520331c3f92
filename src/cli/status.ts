import type { Command } from '@commander-js/extra-typings';
import type { JobRecord, JsonValue, StepRecord } from '../index.ts';
import { jobToJson } from './job-json.ts';
import { stateStyles } from './list.ts';
import type { Session } from './session.ts';
import type { Terminal } from './terminal.ts';
import { duration, momentInFull } from './time-format.ts';

function pretty(value: JsonValue | null, indent: string): string {
  return JSON.stringify(value, null, 2)
    .split('\n')
    .map((line) => indent + line)
    .join('\n');
}

function facts(job: JobRecord, now: number, tty: boolean): Array<[string, string]> {
  const at = (ms: number) => momentInFull(ms, now, tty);
  const rows: Array<[string, string]> = [
    ['queue', job.queue],
    ['priority', String(job.priority)],
    ['attempts', `${job.attempts} of ${job.maxAttempts}${job.crashes > 0 ? `, and ${job.crashes} lost to crashed workers` : ''}`],
  ];
  if (job.key !== null) rows.push(['key', job.key]);
  if (job.timeoutMs !== null) rows.push(['timeout', duration(job.timeoutMs)]);
  rows.push(['created', at(job.createdAt)]);
  if (job.state === 'scheduled' || job.state === 'queued') rows.push(['runs at', at(job.runAt)]);
  if (job.startedAt !== null) rows.push(['started', at(job.startedAt)]);
  if (job.finishedAt !== null) rows.push(['finished', at(job.finishedAt)]);
  if (job.finishedAt !== null && job.startedAt !== null) rows.push(['duration', duration(job.finishedAt - job.startedAt)]);
  if (job.lease !== null) rows.push(['lease', `held by ${job.lease.workerId}, ${job.lease.expiresAt > now ? 'ends' : 'ended'} ${at(job.lease.expiresAt)}`]);
  if (job.cancelRequested) rows.push(['cancel', 'asked for; the running attempt stops at its next heartbeat']);
  if (job.expiresAt !== null) rows.push(['removed', `by retention ${at(job.expiresAt)}`]);
  if (Object.keys(job.metadata).length > 0) rows.push(['metadata', JSON.stringify(job.metadata)]);
  return rows;
}

/**
 * What the store knows of the job's life, oldest first. It keeps the latest attempt's start
 * and error, not every attempt's, so earlier retries show only through their log lines.
 */
function timeline(job: JobRecord): Array<[number, string]> {
  const events: Array<[number, string]> = [[job.createdAt, 'enqueued']];
  if (job.startedAt !== null) events.push([job.startedAt, `attempt ${Math.max(job.attempts, 1)}${job.attempts > 1 ? ' (the latest)' : ''} started`]);
  if (job.error !== null) events.push([job.error.at, `attempt ${job.error.attempt} failed: ${job.error.message.split('\n')[0]}`]);
  if (job.state === 'scheduled' && job.attempts > 0) events.push([job.runAt, `retry ${job.attempts + 1} due`]);
  if (job.finishedAt !== null) events.push([job.finishedAt, job.state]);
  return events.sort((a, b) => a[0] - b[0]);
}

const stepStyles = { completed: stateStyles.completed, failed: stateStyles.failed, sleeping: stateStyles.scheduled } as const;

/** One durable step: name, outcome, how long it ran (or until when it sleeps), which attempt, when it started, and why it failed. */
function stepLine(terminal: Terminal, step: StepRecord, width: number, now: number): string {
  const at = (ms: number) => momentInFull(ms, now, terminal.tty);
  const took = step.outcome === 'sleeping' ? `until ${at(step.wakeAt ?? now)}` : duration(step.durationMs ?? 0);
  const outcome = terminal.style(stepStyles[step.outcome], step.outcome.padEnd(9));
  const failure = step.error === null ? '' : `  ${terminal.style('red', `${step.error.name}: ${step.error.message.split('\n')[0]}`)}`;
  return `  ${step.name.padEnd(width)}  ${outcome}  ${took}  ${terminal.style('dim', `attempt ${step.attempt}, started ${at(step.startedAt)}`)}${failure}`;
}

async function printJob(terminal: Terminal, job: JobRecord, now: number): Promise<void> {
  const heading = (text: string) => terminal.line(`\n${terminal.style('bold', text)}`);
  await terminal.line(`${terminal.style('bold', job.id)}  ${job.name}  ${terminal.style(stateStyles[job.state], job.state)}`);
  const rows = facts(job, now, terminal.tty);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) await terminal.line(`  ${terminal.style('dim', label.padEnd(width))}  ${value}`);
  await heading('Payload');
  await terminal.line(pretty(job.payload, '  '));
  if (job.state === 'completed') {
    await heading('Result');
    await terminal.line(pretty(job.result, '  '));
  }
  if (job.error !== null) {
    await heading(`Error (attempt ${job.error.attempt}, ${momentInFull(job.error.at, now, terminal.tty)})`);
    const stack = job.error.stack ?? `${job.error.name}: ${job.error.message}`;
    await terminal.line(stack.split('\n').map((line) => `  ${terminal.style('red', line)}`).join('\n'));
    if (job.attempts > 1) await terminal.line(terminal.style('dim', '  (the store keeps the latest error; earlier attempts show in the logs)'));
  }
  if (job.progressHistory.length > 0) {
    await heading('Progress');
    for (const entry of job.progressHistory) {
      await terminal.line(`  ${momentInFull(entry.at, now, terminal.tty)}  ${String(Math.round(entry.percent)).padStart(3)}%${entry.message ? `  ${entry.message}` : ''}`);
    }
  }
  if (job.logs.length > 0) {
    await heading('Logs');
    for (const entry of job.logs) {
      const fields = entry.fields === null ? '' : `  ${terminal.style('dim', JSON.stringify(entry.fields))}`;
      await terminal.line(`  ${momentInFull(entry.at, now, terminal.tty)}  attempt ${entry.attempt}  ${entry.message}${fields}`);
    }
  }
  if (job.steps !== undefined && job.steps.length > 0) {
    await heading('Steps');
    const width = Math.max(...job.steps.map((step) => step.name.length));
    for (const step of job.steps) await terminal.line(stepLine(terminal, step, width, now));
  }
  await heading('Timeline');
  for (const [at, event] of timeline(job)) await terminal.line(`  ${momentInFull(at, now, terminal.tty)}  ${event}`);
}

export function registerStatus(program: Command, session: Session): void {
  program
    .command('status')
    .description('Everything about one job: payload, result, errors with stacks, progress, logs, steps, lease and timeline.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith status 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      const job = await session.job(idOrPrefix);
      if (session.json) return session.terminal.json(jobToJson(job));
      await printJob(session.terminal, job, await session.now());
    });
}
