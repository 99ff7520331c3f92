import type { Command } from '@commander-js/extra-typings';
import { waitingForChildren, waitingForChildrenText } from '../domain/flow-waiting.ts';
import {
  type AttemptRecord,
  attemptErrorLine,
  type CurrentAttempt,
  errorOutsideHistory,
  type FlowChild,
  type FlowProgress,
  isEndedAttempt,
  type JobEvent,
  jobAttempts,
  type JobRecord,
  jobTimeline,
  type JsonValue,
  type StepRecord,
} from '../index.ts';
import { childToJson, jobToJson } from './job-json.ts';
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

/** What `status` shows of a flow job beyond its record: its children and how far its flow is. */
interface FlowView {
  children: FlowChild[];
  /** Null when the flow's jobs are gone (pruned) but this one. */
  progress: FlowProgress | null;
}

async function flowView(session: Session, job: JobRecord): Promise<FlowView | null> {
  if (job.flow === undefined) return null;
  const client = await session.client();
  const [children, progress] = await Promise.all([client.children(job.id), client.flowProgress(job.flow.flowId)]);
  return { children, progress };
}

function facts(job: JobRecord, now: number, tty: boolean, flow: FlowView | null): Array<[string, string]> {
  const at = (ms: number) => momentInFull(ms, now, tty);
  const rows: Array<[string, string]> = [
    ['queue', job.queue],
    ['priority', String(job.priority)],
    ['attempts', `${job.attempts} of ${job.maxAttempts}${job.crashes > 0 ? `, and ${job.crashes} lost to crashed workers` : ''}`],
  ];
  if (job.key !== null) rows.push(['key', job.key]);
  if (job.timeoutMs !== null) rows.push(['timeout', duration(job.timeoutMs)]);
  rows.push(['created', at(job.createdAt)]);
  if (job.flow !== undefined) {
    const progress = flow?.progress;
    rows.push(['flow', `${job.flow.flowId}${progress ? ` (${progress.finished} of ${progress.total} jobs finished)` : ''}`]);
    if (job.flow.hasParents) rows.push(['parents', 'other jobs of its flow wait for this one']);
  }
  const waiting = waitingForChildren(job);
  // A waiting parent's runAt is a never-due mark (year 275760), not a time to print.
  if (waiting !== null) rows.push(['runs', `when its children have finished: ${waitingForChildrenText(waiting)}`]);
  else if (job.state === 'scheduled' || job.state === 'queued') rows.push(['runs at', at(job.runAt)]);
  if (job.startedAt !== null) rows.push(['started', at(job.startedAt)]);
  if (job.finishedAt !== null) rows.push(['finished', at(job.finishedAt)]);
  if (job.finishedAt !== null && job.startedAt !== null) rows.push(['duration', duration(job.finishedAt - job.startedAt)]);
  if (job.lease !== null) rows.push(['lease', `held by ${job.lease.workerId}, ${job.lease.expiresAt > now ? 'ends' : 'ended'} ${at(job.lease.expiresAt)}`]);
  if (job.cancelRequested) rows.push(['cancel', 'asked for; the running attempt stops at its next heartbeat']);
  if (job.expiresAt !== null) rows.push(['removed', `by retention ${at(job.expiresAt)}`]);
  if (Object.keys(job.metadata).length > 0) rows.push(['metadata', JSON.stringify(job.metadata)]);
  return rows;
}

/** One line of the timeline: each attempt with its worker, how it ended and after how long, each retry with its backoff. */
function eventText(event: JobEvent): string {
  switch (event.kind) {
    case 'enqueued':
      return 'enqueued';
    case 'started': {
      const { attempt } = event;
      return `attempt ${attempt.attempt} started${attempt.workerId === null ? '' : ` on ${attempt.workerId}`}${attempt.outcome === 'released' ? ' (given back without spending an attempt)' : ''}`;
    }
    case 'ended': {
      const { attempt } = event;
      const after = duration(attempt.endedAt - attempt.startedAt);
      if (attempt.outcome === 'crashed') return `attempt ${attempt.attempt} lost after ${after}: its worker stopped renewing the lease`;
      const error = attemptErrorLine(attempt);
      return `attempt ${attempt.attempt} ${attempt.outcome} after ${after}${error === null ? '' : `: ${error}`}${attempt.retryAt === null ? '' : `; retry in ${duration(attempt.retryAt - attempt.endedAt)}`}`;
    }
    case 'retry-due':
      return `retry due (backoff ${duration(event.backoffMs)})`;
    case 'finished':
      return event.state;
  }
}

const attemptStyles = {
  failed: stateStyles.failed,
  'timed-out': stateStyles.failed,
  crashed: stateStyles.failed,
  cancelled: stateStyles.cancelled,
  running: stateStyles.running,
  completed: stateStyles.completed,
  released: stateStyles.scheduled,
} as const;

/** One attempt: number, outcome, worker, start and how long it ran, then its error with the stack. */
function attemptLines(terminal: Terminal, attempt: AttemptRecord | CurrentAttempt, now: number): string[] {
  const at = (ms: number) => momentInFull(ms, now, terminal.tty);
  // The store keeps no worker for the attempt that completed the job (its lease is gone).
  const parts = [...(attempt.workerId === null ? [] : [`worker ${attempt.workerId}`]), `started ${at(attempt.startedAt)}`];
  if (attempt.endedAt !== null) parts.push(`${attempt.outcome === 'crashed' ? 'lease lapsed after' : 'ran'} ${duration(attempt.endedAt - attempt.startedAt)}`);
  if (isEndedAttempt(attempt) && attempt.retryAt !== null) parts.push(`retried ${at(attempt.retryAt)} (backoff ${duration(attempt.retryAt - attempt.endedAt)})`);
  const lines = [`  #${String(attempt.attempt).padEnd(3)} ${terminal.style(attemptStyles[attempt.outcome], attempt.outcome.padEnd(9))}  ${parts.join(', ')}`];
  if (isEndedAttempt(attempt) && attempt.error !== null) {
    const { error } = attempt;
    const stack = error.stack ?? `${error.name}: ${error.message}`;
    for (const line of stack.split('\n')) lines.push(`       ${terminal.style('red', line)}`);
  }
  return lines;
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

/** The children of a flow job, one a line: id, name, state (or `deleted`) and what its failure does to this job. */
function childLines(terminal: Terminal, children: readonly FlowChild[]): string[] {
  const width = (cell: (child: FlowChild) => string) => Math.max(...children.map((child) => cell(child).length));
  const stateText = (child: FlowChild) => child.state ?? 'deleted';
  const idWidth = width((child) => child.id);
  const nameWidth = width((child) => child.name);
  const stateWidth = width(stateText);
  return children.map((child) => {
    const state = stateText(child).padEnd(stateWidth);
    const styled = child.state === null ? terminal.style('dim', state) : terminal.style(stateStyles[child.state], state);
    return `  ${child.id.padEnd(idWidth)}  ${child.name.padEnd(nameWidth)}  ${styled}  ${terminal.style('dim', 'on failure:')} ${child.onChildFailure}`;
  });
}

async function printJob(terminal: Terminal, job: JobRecord, now: number, flow: FlowView | null): Promise<void> {
  const heading = (text: string) => terminal.line(`\n${terminal.style('bold', text)}`);
  await terminal.line(`${terminal.style('bold', job.id)}  ${job.name}  ${terminal.style(stateStyles[job.state], job.state)}`);
  const rows = facts(job, now, terminal.tty, flow);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) await terminal.line(`  ${terminal.style('dim', label.padEnd(width))}  ${value}`);
  if (flow !== null && flow.children.length > 0) {
    const waiting = waitingForChildren(job);
    await heading(`Children${waiting === null ? '' : ` (${waitingForChildrenText(waiting)})`}`);
    for (const line of childLines(terminal, flow.children)) await terminal.line(line);
  }
  await heading('Payload');
  await terminal.line(pretty(job.payload, '  '));
  if (job.state === 'completed') {
    await heading('Result');
    await terminal.line(pretty(job.result, '  '));
  }
  const olderError = errorOutsideHistory(job);
  if (olderError !== null) {
    await heading(`Error (attempt ${olderError.attempt}, ${momentInFull(olderError.at, now, terminal.tty)})`);
    const stack = olderError.stack ?? `${olderError.name}: ${olderError.message}`;
    await terminal.line(stack.split('\n').map((line) => `  ${terminal.style('red', line)}`).join('\n'));
  }
  const attempts = jobAttempts(job);
  if (attempts.length > 0) {
    await heading('Attempts');
    if (job.attemptHistoryDropped > 0) await terminal.line(terminal.style('dim', `  (${job.attemptHistoryDropped} older attempts not kept)`));
    for (const attempt of attempts) await terminal.line(attemptLines(terminal, attempt, now).join('\n'));
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
  for (const event of jobTimeline(job)) await terminal.line(`  ${momentInFull(event.at, now, terminal.tty)}  ${eventText(event)}`);
}

export function registerStatus(program: Command, session: Session): void {
  program
    .command('status')
    .description('Everything about one job: payload, result, every attempt with its worker and error stack, progress, logs, steps, lease, timeline, and in a flow its children.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith status 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      const job = await session.job(idOrPrefix);
      const flow = await flowView(session, job);
      if (session.json) return session.terminal.json({ ...jobToJson(job), ...(flow === null ? {} : { children: flow.children.map(childToJson) }) });
      await printJob(session.terminal, job, await session.now(), flow);
    });
}
