import { type JobRecord, jobStates } from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';
import { findJobs, type JobQuery, readJobQuery } from '../job-listing.ts';
import { waitingForChildren, waitingForChildrenText } from '../../domain/flow-waiting.ts';
import { jobLink, moment, query, stateBadge } from './format.ts';
import { actionButton, layout } from './layout.ts';

/** "Runs / ran": when it ended, started or is due; for a parent waiting in a flow (due at no time), what it waits for. */
function runsCell(job: JobRecord, now: number): SafeHtml {
  const waiting = waitingForChildren(job);
  if (waiting !== null) return html`<span class="waiting-for-children">${waitingForChildrenText(waiting)}</span>`;
  return moment(job.finishedAt ?? job.startedAt ?? job.runAt, now);
}

/** A table of jobs; `actions` adds a last cell per row (the Failed page's buttons). */
export function jobTable(context: DashboardContext, request: PageRequest, jobs: readonly JobRecord[], actions?: (job: JobRecord) => SafeHtml): SafeHtml {
  if (jobs.length === 0) return html`<p class="muted empty">No jobs match.</p>`;
  const { base } = context;
  return html`<table class="jobs">
<thead><tr><th>Id</th><th>Name</th><th>Queue</th><th>State</th><th class="num">Attempts</th><th>Created</th><th>Runs / ran</th><th>Error</th>${actions ? html`<th></th>` : ''}</tr></thead>
<tbody>${jobs.map(
    (job) => html`<tr data-job-id="${job.id}">
<td>${jobLink(base, job)}</td><td class="name">${job.name}</td><td>${job.queue}</td><td>${stateBadge(job.state)}</td>
<td class="num">${job.attempts}/${job.maxAttempts}</td><td>${moment(job.createdAt, request.now)}</td>
<td>${runsCell(job, request.now)}</td>
<td class="error-cell">${job.error ? job.error.message.split('\n')[0] : ''}</td>
${actions ? html`<td class="row-actions">${actions(job)}</td>` : ''}
</tr>`,
  )}</tbody></table>`;
}

/** "Next page" by the store's cursor, and back to the first. */
export function pager(context: DashboardContext, path: string, jobQuery: JobQuery, nextCursor: string | null): SafeHtml {
  const keep = { state: jobQuery.state, queue: jobQuery.queue, name: jobQuery.name };
  return html`<nav class="pager">
${jobQuery.cursor !== null ? html`<a href="${context.base}${path}${query(keep)}">« First page</a>` : ''}
${nextCursor !== null ? html`<a rel="next" href="${context.base}${path}${query({ ...keep, cursor: nextCursor })}">Next page »</a>` : ''}
</nav>`;
}

export async function jobsPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const jobQuery = readJobQuery(request.url.searchParams);
  const page = await findJobs(context, jobQuery);
  const form = html`<form class="filters" method="get" action="${context.base}/jobs">
<label>State <select name="state"><option value="">any</option>${jobStates.map((state) => html`<option${state === jobQuery.state ? html` selected` : ''}>${state}</option>`)}</select></label>
<label>Queue <input name="queue" value="${jobQuery.queue ?? ''}" placeholder="any"></label>
<label>Name <input name="name" value="${jobQuery.name ?? ''}" placeholder="any"></label>
<label>Id <input name="id" value="${jobQuery.id ?? ''}" placeholder="id or prefix" class="mono"></label>
<button type="submit">Filter</button> <a href="${context.base}/jobs">clear</a>
</form>`;
  return layout(context, request, 'jobs', 'Jobs', [form, jobTable(context, request, page.jobs), pager(context, '/jobs', jobQuery, page.nextCursor)]);
}

export async function failedPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const jobQuery = readJobQuery(request.url.searchParams, 'failed');
  const page = await findJobs(context, { ...jobQuery, id: null });
  const bulk = context.readOnly
    ? ''
    : html`<div class="bulk-actions">
${actionButton(context, '/api/failed/retry', 'Retry all', { confirm: 'Retry every failed job?', name: 'retry-all' })}
${actionButton(context, '/api/failed/flush', 'Delete all', { confirm: 'Delete every failed job? This cannot be undone.', danger: true, name: 'flush' })}
</div>`;
  const rows = jobTable(context, request, page.jobs, (job) =>
    html`${actionButton(context, `/api/jobs/${job.id}/retry`, 'Retry', { confirm: `Retry job ${job.id.slice(0, 8)}?` })}
${actionButton(context, `/api/jobs/${job.id}/delete`, 'Delete', { confirm: `Delete job ${job.id.slice(0, 8)}?`, danger: true })}`,
  );
  return layout(context, request, 'failed', 'Failed jobs', [bulk, rows, pager(context, '/failed', jobQuery, page.nextCursor)]);
}
