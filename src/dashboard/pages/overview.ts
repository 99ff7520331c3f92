import { type BackendStats, type JobState, type QueueStats, jobStates } from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';
import { duration, moment, query } from './format.ts';
import { layout } from './layout.ts';

/** The chart's data, read by static/dashboard.js: seconds since the epoch and a count per minute. */
export function chartSeries(stats: BackendStats): { at: number[]; completed: number[]; failed: number[] } {
  const minutes = stats.lastHourByMinute;
  return { at: minutes.map((minute) => minute.at / 1000), completed: minutes.map((minute) => minute.completed), failed: minutes.map((minute) => minute.failed) };
}

/**
 * What the overview and the queues table show for a state. A flow parent waiting for its
 * children is stored as scheduled (never due); it is shown apart, under "waiting for children",
 * so "scheduled" here is the delayed jobs waiting for their run time.
 */
function shownCount(stats: BackendStats | QueueStats, state: JobState): number {
  return state === 'scheduled' ? stats.counts.scheduled - stats.waitingForChildren : stats.counts[state];
}

const scheduledTitle = 'delayed jobs waiting for their run time';
const waitingTitle = 'flow parents waiting for their children to finish (stored as scheduled)';

export function queueTable(context: DashboardContext, request: PageRequest, stats: BackendStats, actions: (queue: string, paused: boolean) => SafeHtml | ''): SafeHtml {
  const { base } = context;
  if (stats.queues.length === 0) return html`<p class="muted">No queues yet: a queue appears with its first job.</p>`;
  return html`<table class="queues">
<thead><tr><th>Queue</th><th>Status</th>${jobStates.map((state) =>
    state === 'scheduled'
      ? html`<th class="num" title="${scheduledTitle}">scheduled</th><th class="num parents-waiting" title="${waitingTitle}">waiting for children</th>`
      : html`<th class="num">${state}</th>`,
  )}<th class="num">done / h</th><th class="num">failed / h</th><th>Oldest waiting</th><th>Last finished</th><th></th></tr></thead>
<tbody>${stats.queues.map(
    (queue) => html`<tr data-queue="${queue.queue}">
<td><a href="${base}/jobs${query({ queue: queue.queue })}">${queue.queue}</a></td>
<td>${queue.paused ? html`<span class="paused">paused</span>` : html`<span class="active-queue">active</span>`}</td>
${jobStates.map((state) =>
  state === 'scheduled'
    ? html`<td class="num">${shownCount(queue, state)}</td><td class="num parents-waiting">${queue.waitingForChildren}</td>`
    : html`<td class="num">${queue.counts[state]}</td>`,
)}
<td class="num">${queue.completedLastHour}</td><td class="num">${queue.failedLastHour}</td>
<td class="oldest-waiting">${queue.oldestWaitingSince === null ? html`<span class="muted">—</span>` : html`<time datetime="${new Date(queue.oldestWaitingSince).toISOString()}">${duration(Math.max(0, request.now - queue.oldestWaitingSince))}</time>`}</td>
<td>${moment(queue.lastProcessedAt, request.now)}</td>
<td>${actions(queue.queue, queue.paused)}</td>
</tr>`,
  )}</tbody></table>`;
}

export async function overviewPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const stats = await context.client.stats();
  const { base } = context;
  const card = (state: JobState) =>
    html`<a class="card state-${state}" href="${base}/jobs${query({ state })}"${state === 'scheduled' ? html` title="${scheduledTitle}"` : ''}><span class="count" data-state="${state}">${shownCount(stats, state)}</span><span class="label">${state}</span></a>`;
  // The parents are listed with the scheduled jobs, each saying how many children it waits for.
  const waitingCard = html`<a class="card parents-waiting" href="${base}/jobs${query({ state: 'scheduled' })}" title="${waitingTitle}"><span class="count" data-count="waiting-for-children">${stats.waitingForChildren}</span><span class="label">waiting for children</span></a>`;
  const body = html`<section class="cards">${jobStates.map((state) => (state === 'scheduled' ? html`${card(state)}${waitingCard}` : card(state)))}</section>
<section class="throughput">
<h2>Finished per minute, last hour</h2>
<p class="muted">Completed ${stats.completedLastHour}, failed ${stats.failedLastHour} in the last hour; ${stats.completedLastMinute} and ${stats.failedLastMinute} in the last minute.</p>
<div id="throughput-chart" class="chart" data-series="${JSON.stringify(chartSeries(stats))}"></div>
</section>
<section><h2>Queues</h2>${queueTable(context, request, stats, () => '')}</section>`;
  return layout(context, request, 'overview', 'Overview', body);
}
