import { waitingForChildren, waitingForChildrenText } from '../../domain/flow-waiting.ts';
import {
  attemptErrorLine,
  errorOutsideHistory,
  type FlowChild,
  type FlowProgress,
  isEndedAttempt,
  isTerminal,
  type JobEvent,
  jobAttempts,
  type JobRecord,
  jobStates,
  jobTimeline,
  type WaitExplanation,
} from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type HtmlPart, type SafeHtml } from '../html.ts';
import { duration, jobLink, moment, prettyJson, stateBadge } from './format.ts';
import { actionButton, layout } from './layout.ts';

interface TimelineEntry {
  at: number;
  what: HtmlPart;
}

const worker = (workerId: string | null) => (workerId === null ? '' : html` on worker <span class="mono">${workerId}</span>`);

/** One event of `jobTimeline`: each attempt with its worker and how long it ran, each retry with its backoff. */
function timelineEntry(job: JobRecord, event: JobEvent, now: number): TimelineEntry {
  switch (event.kind) {
    case 'enqueued':
      return { at: event.at, what: html`enqueued in queue <b>${job.queue}</b>${job.priority !== 0 ? ` with priority ${job.priority}` : ''}` };
    case 'started': {
      const { attempt } = event;
      const took = attempt.outcome === 'completed' && attempt.endedAt !== null ? `, took ${duration(attempt.endedAt - attempt.startedAt)}` : '';
      const released = attempt.outcome === 'released' ? ', given back without spending an attempt' : attempt.outcome === 'running' ? ', running' : '';
      return { at: event.at, what: html`attempt ${attempt.attempt} started${worker(attempt.workerId)}${took}${released}` };
    }
    case 'ended': {
      const { attempt } = event;
      const after = duration(attempt.endedAt - attempt.startedAt);
      if (attempt.outcome === 'crashed') {
        return { at: event.at, what: html`attempt ${attempt.attempt} <span class="error-text">crashed</span> after ${after}: its worker stopped renewing the lease` };
      }
      const error = attemptErrorLine(attempt);
      const backoff = attempt.retryAt === null ? '' : html`; retry in ${duration(attempt.retryAt - attempt.endedAt)}`;
      return { at: event.at, what: html`attempt ${attempt.attempt} ${attempt.outcome} after ${after}${error === null ? '' : html`: <span class="error-text">${error}</span>`}${backoff}` };
    }
    case 'retry-due':
      return { at: event.at, what: html`retry ${event.at > now ? 'due' : 'became due'} after a backoff of ${duration(event.backoffMs)}` };
    case 'finished':
      return { at: event.at, what: html`finished: ${stateBadge(event.state)}` };
  }
}

/** The job's life as the store tells it: enqueued, every attempt (worker, duration, outcome), each retry's backoff, the end. */
export function timeline(job: JobRecord, now: number): TimelineEntry[] {
  const entries = jobTimeline(job).map((event) => timelineEntry(job, event, now));
  // Delayed at enqueue: when it became (or becomes) due, before any attempt. A parent waiting
  // for its children is due at no time (its runAt is a never-due mark).
  if (waitingForChildren(job) === null && job.runAt > job.createdAt && job.attempts === 0 && job.attemptHistory.length === 0 && job.startedAt === null) {
    entries.push({ at: job.runAt, what: job.runAt > now ? 'due to run' : 'became due' });
  }
  return entries.sort((a, b) => a.at - b.at);
}

/** Every attempt: its worker, start, duration, outcome and backoff, and its error with the stack folded under the first line. */
function attemptsSection(job: JobRecord, now: number): SafeHtml {
  const attempts = jobAttempts(job);
  if (attempts.length === 0) return html``;
  const dropped = job.attemptHistoryDropped > 0 ? html`<p class="muted">${job.attemptHistoryDropped} older attempts not kept.</p>` : '';
  return html`<section class="attempts"><h2>Attempts</h2>${dropped}
<table class="attempts"><thead><tr><th class="num">#</th><th>Outcome</th><th>Worker</th><th>Started</th><th>Duration</th><th>Retry</th><th>Error</th></tr></thead><tbody>${attempts.map(
    (attempt) => {
      const ended = isEndedAttempt(attempt) ? attempt : null;
      const error = ended?.error ?? null;
      return html`<tr data-attempt="${attempt.attempt}" data-outcome="${attempt.outcome}"><td class="num">${attempt.attempt}</td><td>${attempt.outcome}</td><td class="mono">${attempt.workerId ?? '—'}</td><td>${moment(attempt.startedAt, now)}</td><td>${attempt.endedAt === null ? '—' : duration(attempt.endedAt - attempt.startedAt)}</td><td>${
        ended?.retryAt == null ? '—' : html`${moment(ended.retryAt, now)} (backoff ${duration(ended.retryAt - ended.endedAt)})`
      }</td><td>${
        error === null
          ? '—'
          : html`<details class="attempt-error"><summary><b>${error.name}</b>${error.code ? html` <span class="mono">${error.code}</span>` : ''}: <span class="error-text">${error.message.split('\n')[0]}</span></summary>
<pre class="stack">${error.stack ?? `${error.name}: ${error.message}`}</pre></details>`
      }</td></tr>`;
    },
  )}</tbody></table></section>`;
}

/** When the job runs: a moment, or for a parent waiting in a flow what it waits for. */
export function runAtCell(job: JobRecord, now: number): SafeHtml {
  const waiting = waitingForChildren(job);
  return waiting === null ? moment(job.runAt, now) : html`<span class="waiting-for-children">${waitingForChildrenText(waiting)}</span>`;
}

/** What the job page shows of a flow job beyond its record (the route reads it): its children and its flow's progress. */
export interface FlowView {
  children: FlowChild[];
  /** Null when no job of the flow is left but this one's record as read a moment ago. */
  progress: FlowProgress | null;
}

/** `3 of 5 jobs finished: 2 completed, 1 failed, 2 scheduled`. */
export function flowProgressText(progress: FlowProgress): string {
  const counts = jobStates.filter((state) => progress.counts[state] > 0).map((state) => `${progress.counts[state]} ${state}`);
  return `${progress.finished} of ${progress.total} jobs finished${counts.length > 0 ? `: ${counts.join(', ')}` : ''}`;
}

/** A flow job: its flow and how far it is, what it waits for, whether others wait for it, and its children (linked). */
function flowSection(context: DashboardContext, job: JobRecord, flow: FlowView, now: number): SafeHtml {
  if (job.flow === undefined) return html``;
  const waiting = waitingForChildren(job);
  const { children, progress } = flow;
  return html`<section class="flow" id="flow"><h2>Flow</h2>
<p class="flow-progress">Flow <a class="mono" href="${context.base}/flows/${job.flow.flowId}">${job.flow.flowId}</a>${progress ? html`: ${flowProgressText(progress)}` : ''}.</p>
${waiting === null ? '' : html`<p class="flow-waiting">This job is ${waitingForChildrenText(waiting)}; it is queued when they have finished.</p>`}
${job.flow.hasParents ? html`<p class="flow-parents">Other jobs of this flow wait for this one.</p>` : ''}
${children.length === 0
    ? ''
    : html`<h3>Children</h3><table class="children"><thead><tr><th>Id</th><th>Name</th><th>State</th><th>On failure</th><th>Finished</th></tr></thead><tbody>${children.map(
        (child) =>
          html`<tr data-child-id="${child.id}"><td>${child.state === null ? html`<span class="mono" title="${child.id}">${child.id.slice(0, 8)}</span>` : jobLink(context.base, child)}</td><td class="name">${child.name}</td><td>${
            child.state === null ? html`<span class="muted">deleted</span>` : stateBadge(child.state)
          }</td><td class="policy">${child.onChildFailure}</td><td>${moment(child.finishedAt, now)}</td></tr>`,
      )}</tbody></table>`}
</section>`;
}

function fields(job: JobRecord, now: number): SafeHtml {
  const row = (label: string, value: HtmlPart) => html`<tr><th>${label}</th><td>${value}</td></tr>`;
  return html`<table class="fields">
${row('Id', html`<span class="mono">${job.id}</span>`)}
${row('Name', job.name)}
${row('Queue', job.queue)}
${row('State', [stateBadge(job.state), job.cancelRequested ? ' (cancel requested)' : ''])}
${row('Priority', job.priority)}
${row('Attempts', `${job.attempts} of ${job.maxAttempts}${job.crashes > 0 ? `, ${job.crashes} lost to crashes` : ''}`)}
${row('Key', job.key ?? '—')}
${row('Created', moment(job.createdAt, now))}
${row('Run at', runAtCell(job, now))}
${row('Started', moment(job.startedAt, now))}
${row('Finished', moment(job.finishedAt, now))}
${row('Timeout', job.timeoutMs === null ? '—' : duration(job.timeoutMs))}
${row('Lease', job.lease ? html`worker <span class="mono">${job.lease.workerId}</span>, expires ${moment(job.lease.expiresAt, now)}` : '—')}
${job.failedHook ? row('Failed hook', job.failedHook) : ''}
${row('Expires', moment(job.expiresAt, now))}
</table>`;
}

export function jobActions(context: DashboardContext, job: JobRecord): SafeHtml {
  const short = job.id.slice(0, 8);
  return html`<div class="job-actions">
${job.state === 'failed' || job.state === 'cancelled' ? actionButton(context, `/api/jobs/${job.id}/retry`, 'Retry', { confirm: `Retry job ${short}?` }) : ''}
${!isTerminal(job.state) ? actionButton(context, `/api/jobs/${job.id}/cancel`, 'Cancel', { confirm: `Cancel job ${short}?` }) : ''}
${job.state !== 'running' ? actionButton(context, `/api/jobs/${job.id}/delete`, 'Delete', { confirm: `Delete job ${short}? This cannot be undone.`, danger: true }) : ''}
</div>`;
}

/** "Why isn't it running": `client.explainWait`'s reasons, those holding the job back marked. */
export function waitPanel(explanation: WaitExplanation): SafeHtml {
  return html`<section class="why" id="why"><h2>Why isn't it running?</h2>
<ul class="reasons">${explanation.reasons.map(
    (reason) => html`<li class="${reason.blocking ? 'blocking' : 'context'}" data-code="${reason.code}"><span class="mono">${reason.code}</span> ${reason.message}</li>`,
  )}</ul></section>`;
}

export function jobDetailPage(context: DashboardContext, request: PageRequest, job: JobRecord, explanation: WaitExplanation | null, flow: FlowView | null = null): SafeHtml {
  const { now } = request;
  const extra = explanation === null ? '' : waitPanel(explanation);
  const olderError = errorOutsideHistory(job);
  const body = html`${jobActions(context, job)}
<div class="columns">
<section><h2>Job</h2>${fields(job, now)}</section>
<section><h2>Timeline</h2><ol class="timeline">${timeline(job, now).map((entry) => html`<li>${moment(entry.at, now)} ${entry.what}</li>`)}</ol></section>
</div>
${extra}
${flow === null ? '' : flowSection(context, job, flow, now)}
<section><h2>Payload</h2>${prettyJson(job.payload)}</section>
${job.state === 'completed' ? html`<section><h2>Result</h2>${prettyJson(job.result)}</section>` : ''}
${attemptsSection(job, now)}
${olderError
    ? html`<section class="error"><h2>Error (attempt ${olderError.attempt})</h2>
<p><b>${olderError.name}</b>${olderError.code ? html` <span class="mono">${olderError.code}</span>` : ''}: <span class="error-text">${olderError.message}</span></p>
${olderError.stack ? html`<pre class="stack">${olderError.stack}</pre>` : ''}</section>`
    : ''}
<section><h2>Progress</h2>${
    job.progressHistory.length === 0
      ? html`<p class="muted">No progress reported.</p>`
      : html`<table class="progress"><thead><tr><th>When</th><th class="num">%</th><th>Message</th></tr></thead><tbody>${job.progressHistory.map(
          (entry) => html`<tr><td>${moment(entry.at, now)}</td><td class="num">${entry.percent}</td><td>${entry.message ?? ''}</td></tr>`,
        )}</tbody></table>`
  }</section>
<section><h2>Logs</h2>${
    job.logs.length === 0
      ? html`<p class="muted">No log lines.</p>`
      : html`<table class="logs"><thead><tr><th>When</th><th class="num">Attempt</th><th>Message</th><th>Fields</th></tr></thead><tbody>${job.logs.map(
          (entry) =>
            html`<tr><td>${moment(entry.at, now)}</td><td class="num">${entry.attempt}</td><td class="log-message">${entry.message}</td><td>${entry.fields ? html`<code>${JSON.stringify(entry.fields)}</code>` : ''}</td></tr>`,
        )}</tbody></table>`
  }</section>
<section><h2>Metadata</h2>${prettyJson(job.metadata)}</section>`;
  return layout(context, request, 'jobs', `Job ${job.name} ${job.id.slice(0, 8)}`, body);
}
