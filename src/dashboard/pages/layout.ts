import type { DashboardContext, PageRequest } from '../dashboard-context.ts';
import { html, type HtmlPart, type SafeHtml } from '../html.ts';

export type PageName = 'overview' | 'jobs' | 'failed' | 'queues' | 'schedules' | 'workers';

const navigation: Array<{ page: PageName; label: string; path: string }> = [
  { page: 'overview', label: 'Overview', path: '/' },
  { page: 'jobs', label: 'Jobs', path: '/jobs' },
  { page: 'failed', label: 'Failed', path: '/failed' },
  { page: 'queues', label: 'Queues', path: '/queues' },
  { page: 'schedules', label: 'Schedules', path: '/schedules' },
  { page: 'workers', label: 'Workers', path: '/workers' },
];

/** htmx without eval, without its injected style element (the CSP refuses both), and only to this origin. */
const htmxConfig = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, selfRequestsOnly: true, historyCacheSize: 0 });

/**
 * The page around every view. `#live` is fetched again (and only it swapped in) whenever
 * the server-sent events say something changed; the script that listens lives in
 * static/dashboard.js, since the CSP allows no inline script.
 */
export function layout(context: DashboardContext, request: PageRequest, page: PageName | null, title: string, body: HtmlPart): SafeHtml {
  const { base } = context;
  const live = request.url.pathname + request.url.search;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${htmxConfig}">
<meta name="csrf-token" content="${request.csrfToken}">
<title>${title} · Jobsmith</title>
<link rel="stylesheet" href="${base}/static/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="${base}/static/dashboard.css">
<script src="${base}/static/vendor/htmx/htmx.min.js" defer></script>
<script src="${base}/static/vendor/uplot/uPlot.iife.min.js" defer></script>
<script src="${base}/static/dashboard.js" defer></script>
</head>
<body hx-headers="${JSON.stringify({ 'X-CSRF-Token': request.csrfToken })}" data-events="${base}/events">
<header class="top">
  <a class="brand" href="${base}/">Jobsmith</a>
  <nav>${navigation.map((item) => html`<a href="${base}${item.path}"${page === item.page ? html` class="active" aria-current="page"` : ''}>${item.label}</a>`)}</nav>
  <span class="live-status" id="live-status" title="Live updates over server-sent events">connecting…</span>
  ${context.readOnly ? html`<span class="read-only">read-only</span>` : ''}
  ${request.signedIn ? html`<form class="sign-out" method="post" action="${base}/logout"><input type="hidden" name="_csrf" value="${request.csrfToken}"><button type="submit">Sign out</button></form>` : ''}
</header>
<div id="flash" role="alert" hidden></div>
<main id="live" hx-get="${live}" hx-trigger="jobsmith-change from:body throttle:1s" hx-select="#live" hx-swap="outerHTML">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** A POST button (htmx), confirmed first when `confirm` is given; absent in read-only mode. */
export function actionButton(context: DashboardContext, path: string, label: string, options: { confirm?: string; danger?: boolean; name?: string } = {}): SafeHtml | '' {
  if (context.readOnly) return '';
  return html`<button type="button" class="action${options.danger ? ' danger' : ''}" data-action="${options.name ?? label.toLowerCase()}" hx-post="${context.base}${path}" hx-swap="none"${options.confirm ? html` hx-confirm="${options.confirm}"` : ''}>${label}</button>`;
}
