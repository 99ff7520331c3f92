// The public API of `jobsmith/dashboard`: the web dashboard, as a Hono app to mount or a server to run.
export { createDashboard } from './create-dashboard.ts';
export type { Dashboard, DashboardEnv, DashboardOptions } from './create-dashboard.ts';
export type { DashboardAuth } from './auth.ts';
export type { AuthFailureLimit } from './auth-throttle.ts';
export { serveDashboard } from './serve-dashboard.ts';
export type { ServeDashboardOptions, ServedDashboard } from './serve-dashboard.ts';
export { toNodeListener } from './node-listener.ts';
export type { LiveEventsOptions } from './live-events.ts';
