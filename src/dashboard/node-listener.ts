import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Dashboard } from './create-dashboard.ts';

/**
 * The dashboard as a Node request handler, for `node:http` and Express (`app.use('/jobs',
 * toNodeListener(dashboard))`). Express strips the mount path from `req.url`; the
 * dashboard routes by the full path (its `basePath`), so the original URL is put back.
 */
export function toNodeListener(dashboard: Dashboard): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const listener = getRequestListener(dashboard.fetch);
  return (request, response) => {
    const original = (request as IncomingMessage & { originalUrl?: string }).originalUrl;
    if (typeof original === 'string') request.url = original;
    return listener(request, response);
  };
}
