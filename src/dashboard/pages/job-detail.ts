import { isTerminal, type JobRecord, type WaitExplanation } from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type HtmlPart, type SafeHtml } from '../html.ts';
import { duration, moment, prettyJson, stateBadge } from './format.ts';
import { actionButton, layout } from './layout.ts';

interface TimelineEntry {
  at: number;
  what: HtmlPart;
}

/**
 * The job's life as far as the store tells it: enqueued, the latest attempt's start (and
 * the worker holding it), the latest failure and the backoff before the retry, the end.
 * The store keeps the latest error and lease, not every attempt's.
 */
export function timeline(job: JobRecord, now: number): TimelineEntry[] {
  const entries: TimelineEntry[] = [{ at: job.createdAt, what: html`enqueued in queue <b>${job.queue}</b>${job.priority !== 0 ? ` with priority ${job.priority}` : ''}` }];
  if (job.runAt > job.createdAt && job.attempts === 0) entries.push({ at: job.runAt, what: job.runAt > now ? 'due to run' : 'became due' });
  if (job.startedAt !== null) {
    const attempt = job.state === 'running' ? job.attempts + 1 : job.attempts;
    const worker = job.lease ? html` on worker <span class="mono">${job.lease.workerId}</span>` : '';
    const took = job.finishedAt !== null && job.finishedAt >= job.startedAt ? `, took ${duration(job.finishedAt - job.startedAt)}` : '';
    entries.push({ at: job.startedAt, what: html`attempt ${attempt} started${worker}${took}` });
  }
  if (job.error) {
    const backoff = job.state === 'scheduled' && job.runAt > job.error.at ? html`; retry in ${duration(job.runAt - job.error.at)} (at ${new Date(job.runAt).toISOString()})` : '';
    entries.push({ at: job.error.at, what: html`attempt ${job.error.attempt} failed: <span class="error-text">${job.error.message.split('\n')[0]}</span>${backoff}` });
  }
  if (job.finishedAt !== null) entries.push({ at: job.finishedAt, what: html`finished: ${stateBadge(job.state)}` });
  // A stable sort: at equal times, the order they were added in (a start before its failure).
  return entries.sort((a, b) => a.at - b.at);
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
${row('Run at', moment(job.runAt, now))}
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

export function jobDetailPage(context: DashboardContext, request: PageRequest, job: JobRecord, explanation: WaitExplanation | null): SafeHtml {
  const { now } = request;
  const extra = explanation === null ? '' : waitPanel(explanation);
  const body = html`${jobActions(context, job)}
<div class="columns">
<section><h2>Job</h2>${fields(job, now)}</section>
<section><h2>Timeline</h2><ol class="timeline">${timeline(job, now).map((entry) => html`<li>${moment(entry.at, now)} ${entry.what}</li>`)}</ol></section>
</div>
${extra}
<section><h2>Payload</h2>${prettyJson(job.payload)}</section>
${job.state === 'completed' ? html`<section><h2>Result</h2>${prettyJson(job.result)}</section>` : ''}
${job.error
    ? html`<section class="error"><h2>Error (attempt ${job.error.attempt})</h2>
<p><b>${job.error.name}</b>${job.error.code ? html` <span class="mono">${job.error.code}</span>` : ''}: <span class="error-text">${job.error.message}</span></p>
${job.error.stack ? html`<pre class="stack">${job.error.stack}</pre>` : ''}</section>`
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
