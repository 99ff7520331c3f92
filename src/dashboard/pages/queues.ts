import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import type { SafeHtml } from '../html.ts';
import { actionButton, layout } from './layout.ts';
import { queueTable } from './overview.ts';

export async function queuesPage(context: DashboardContext, request: PageRequest): Promise<SafeHtml> {
  const stats = await context.client.stats();
  const path = (queue: string, verb: string) => `/api/queues/${encodeURIComponent(queue)}/${verb}`;
  const table = queueTable(context, request, stats, (queue, paused) =>
    paused ? actionButton(context, path(queue, 'resume'), 'Resume') : actionButton(context, path(queue, 'pause'), 'Pause', { confirm: `Pause queue ${queue}? Workers stop taking its jobs.` }),
  );
  return layout(context, request, 'queues', 'Queues', table);
}
