import { wallTime } from '../../cli/time-format.ts';
import type { ScheduleRecord } from '../../index.ts';
import { FireTimes } from '../../scheduler/fire-times.ts';
import { scheduleZone, timingText } from '../../scheduler/schedule-display.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';
import { jobLink, moment } from './format.ts';
import { actionButton, layout } from './layout.ts';

/** The next run, relative too, and the two after it, in the schedule's own zone. */
function nextRuns(record: ScheduleRecord, nextRunAt: number, now: number): SafeHtml {
  const zone = scheduleZone(record);
  const after = new FireTimes(record.spec.timing).next(nextRunAt, 2);
  return html`<span class="next-run">${wallTime(nextRunAt, zone)}</span> <span class="muted">(${moment(nextRunAt, now)})</span>${after.map(
    (at) => html`<br><span class="muted then">then ${wallTime(at, zone)}</span>`,
  )}`;
}

export async function schedulesPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const records = await (await context.scheduler()).list();
  const { now } = request;
  const path = (id: string, verb: string) => `/api/schedules/${encodeURIComponent(id)}/${verb}`;
  const table =
    records.length === 0
      ? html`<p class="muted">No schedules in the store. A scheduler registers them with <code>scheduler.schedule()</code>.</p>`
      : html`<table class="schedules">
<thead><tr><th>Id</th><th>Job</th><th>When</th><th>Status</th><th>Next runs (its zone)</th><th>Last run</th><th>Last job</th><th></th></tr></thead>
<tbody>${records.map(
          (record) => html`<tr data-schedule="${record.id}">
<td class="mono">${record.id}</td><td>${record.spec.job}</td><td>${timingText(record)}</td>
<td>${record.enabled ? html`<span class="enabled">enabled</span>` : html`<span class="disabled">disabled</span>`}</td>
<td>${record.enabled && record.nextRunAt !== null ? nextRuns(record, record.nextRunAt, now) : '—'}</td>
<td>${moment(record.lastRunAt, now)}</td>
<td>${record.lastJobId ? jobLink(context.base, { id: record.lastJobId }) : '—'}</td>
<td class="row-actions">${
            record.enabled
              ? actionButton(context, path(record.id, 'disable'), 'Disable', { confirm: `Disable schedule ${record.id}?` })
              : actionButton(context, path(record.id, 'enable'), 'Enable')
          }
${actionButton(context, path(record.id, 'run'), 'Run now', { confirm: `Enqueue a run of ${record.id} now?`, name: 'run' })}</td>
</tr>`,
        )}</tbody></table>`;
  return layout(context, request, 'schedules', 'Schedules', table);
}
