import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { InvalidOptionError } from '../index.ts';
import { isLoopbackAddress } from './auth.ts';
import { createDashboard, type Dashboard, type DashboardOptions } from './create-dashboard.ts';

export interface ServeDashboardOptions extends DashboardOptions {
  /** @default 4000; 0 picks a free port */
  port?: number;
  /** The address to listen on. @default '127.0.0.1'; without auth only a loopback address is allowed */
  host?: string;
}

export interface ServedDashboard {
  /** Where it answers, such as `http://127.0.0.1:4000/`. */
  url: string;
  dashboard: Dashboard;
  /** Stops listening, ends the live streams and waits for open requests. */
  close(): Promise<void>;
}

/**
 * Runs the dashboard on its own HTTP server. With no `auth`, it listens on loopback only
 * and says so (through `logger`, else on stderr): nobody else on the network can reach it.
 */
export async function serveDashboard(options: ServeDashboardOptions): Promise<ServedDashboard> {
  const { port = 4000, host = '127.0.0.1', ...dashboardOptions } = options;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) throw new InvalidOptionError('port', port, 'a port number from 0 to 65535');
  if (options.auth === undefined && host !== 'localhost' && !isLoopbackAddress(host)) {
    throw new InvalidOptionError('host', host, 'a loopback address (127.0.0.1, ::1 or localhost) when no auth is configured');
  }
  const dashboard = createDashboard(dashboardOptions);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: dashboard.fetch, port, hostname: host }, () => resolve(started));
    started.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}${options.basePath?.replace(/\/$/, '') ?? ''}/`;
  if (options.auth === undefined) {
    const note = `Jobsmith dashboard at ${url}: no auth configured, so it serves loopback only`;
    if (options.logger) options.logger.warn({ url }, note);
    else process.stderr.write(`${note}\n`);
  }
  return {
    url,
    dashboard,
    close: async () => {
      await dashboard.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
    },
  };
}
