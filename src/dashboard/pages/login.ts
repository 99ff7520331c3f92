import type { DashboardContext } from '../dashboard-context.ts';
import { html, type SafeHtml } from '../html.ts';

/** A bare page (no navigation, no script): the login form and messages shown before or instead of a view. */
function bare(context: DashboardContext, title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Jobsmith</title>
<link rel="stylesheet" href="${context.base}/static/dashboard.css">
</head>
<body class="bare"><main><h1>${title}</h1>${body}</main></body>
</html>`;
}

export function loginPage(context: DashboardContext, next: string, problem: string | null): SafeHtml {
  return bare(
    context,
    'Jobsmith dashboard',
    html`${problem ? html`<p class="problem" role="alert">${problem}</p>` : ''}
<form class="login" method="post" action="${context.base}/login">
<input type="hidden" name="next" value="${next}">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function messagePage(context: DashboardContext, title: string, message: string): SafeHtml {
  return bare(context, title, html`<p>${message}</p><p><a href="${context.base}/">Back to the dashboard</a></p>`);
}
