import { isJobsmithError, type LiveWorker } from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';
import { moment } from './format.ts';
import { layout } from './layout.ts';

/** The live workers, or null on a store that keeps no worker registry. */
export async function liveWorkers(context: DashboardContext): Promise<LiveWorker[] | null> {
  try {
    return await context.client.workers();
  } catch (error) {
    if (isJobsmithError(error, 'UNSUPPORTED_CAPABILITY')) return null;
    throw error;
  }
}

export async function workersPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const workers = await liveWorkers(context);
  const { now } = request;
  const body =
    workers === null
      ? html`<p class="muted">This store keeps no registry of live workers.</p>`
      : workers.length === 0
        ? html`<p class="muted empty">No live worker: none is running, or none has sent a heartbeat within its lease.</p>`
        : html`<table class="workers">
<thead><tr><th>Worker</th><th>Host</th><th class="num">Pid</th><th>Queues</th><th>Jobs</th><th class="num">Running</th><th class="num">Concurrency</th><th>Started</th><th>Last heartbeat</th><th>Lapses</th></tr></thead>
<tbody>${workers.map(
            (worker) => html`<tr data-worker="${worker.id}">
<td class="mono">${worker.id}</td><td>${worker.host}</td><td class="num">${worker.pid}</td>
<td>${worker.queues === null ? html`<span class="muted">every queue</span>` : worker.queues.join(', ')}</td>
<td>${worker.names.join(', ')}</td>
<td class="num">${worker.running}</td><td class="num">${worker.concurrency}</td>
<td>${moment(worker.startedAt, now)}</td><td>${moment(worker.lastHeartbeatAt, now)}</td><td>${moment(worker.expiresAt, now)}</td>
</tr>`,
          )}</tbody></table>`;
  return layout(context, request, 'workers', 'Workers', body);
}
