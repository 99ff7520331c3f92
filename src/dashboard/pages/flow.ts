import { type FlowProgress, jobStates } from '../../index.ts';
import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';
import { query, stateBadge } from './format.ts';
import { layout } from './layout.ts';

/** A flow (a graph, chain or batch): its jobs finished of total, and how many are in each state. */
export function flowPage(context: DashboardContext, request: PageRequest, progress: FlowProgress): SafeHtml {
  const { leaves } = progress;
  const body = html`<section class="flow" id="flow">
<p class="flow-progress"><span class="mono">${progress.flowId}</span>: ${progress.finished} of ${progress.total} jobs finished.</p>
${leaves.total !== progress.total ? html`<p class="flow-leaves">The jobs that wait for no other (a batch's items): ${leaves.finished} of ${leaves.total} finished.</p>` : ''}
<table class="flow-counts"><thead><tr><th>State</th><th class="num">Jobs</th></tr></thead><tbody>${jobStates.map(
    (state) => html`<tr data-state="${state}"><td>${stateBadge(state)}</td><td class="num">${progress.counts[state]}</td></tr>`,
  )}</tbody></table>
<p class="muted">A job of the flow shows its children on its own page; <a href="${context.base}/jobs${query({ state: 'scheduled' })}">scheduled jobs</a> include the parents still waiting for theirs.</p>
</section>`;
  return layout(context, request, null, `Flow ${progress.flowId.slice(0, 8)}`, body);
}
