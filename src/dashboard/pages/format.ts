import type { JobRecord, JobState, JsonValue } from '../../index.ts';
import { duration, relativeTime } from '../../cli/time-format.ts';
import { html, type SafeHtml } from '../html.ts';

export { duration };

/** JSON longer than this is shown folded, its head first, the whole behind "show all". */
export const foldChars = 2000;

/** A moment as `<time>`: relative in the text, ISO in the tooltip and attribute. */
export function moment(at: number | null, now: number): SafeHtml {
  if (at === null) return html`<span class="muted">—</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}" title="${iso}">${relativeTime(at, now)}</time>`;
}

export function stateBadge(state: JobState): SafeHtml {
  return html`<span class="state state-${state}">${state}</span>`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function jobLink(base: string, job: Pick<JobRecord, 'id'>): SafeHtml {
  return html`<a class="mono" href="${base}/jobs/${job.id}" title="${job.id}">${shortId(job.id)}</a>`;
}

/** Pretty JSON; a long value shows its head and folds the whole under "show all" (a `<details>`, no script). */
export function prettyJson(value: JsonValue | null | undefined): SafeHtml {
  if (value === undefined || value === null) return html`<pre class="json muted">null</pre>`;
  const text = JSON.stringify(value, null, 2);
  if (text.length <= foldChars) return html`<pre class="json">${text}</pre>`;
  return html`<pre class="json folded">${text.slice(0, foldChars)}…</pre>
    <details class="show-all"><summary>show all (${Math.round(text.length / 1024)} KB)</summary><pre class="json">${text}</pre></details>`;
}

/** `?a=1&b=2` from the non-empty entries. */
export function query(params: Record<string, string | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== '') search.set(name, value);
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
