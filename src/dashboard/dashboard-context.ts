import type { Client, Scheduler } from '../index.ts';

/** What every page and API route works with. */
export interface DashboardContext {
  client: Client;
  /** The scheduler used for schedules (listing, enable, disable, run now). */
  scheduler(): Promise<Scheduler>;
  /** The path the dashboard is served under: '' or '/something', never ending in '/'. */
  base: string;
  readOnly: boolean;
}

/** Per request: the URL asked for, the CSRF token its page carries, and the store's now. */
export interface PageRequest {
  url: URL;
  csrfToken: string;
  now: number;
  /** Signed in through the login form: the page offers to sign out. */
  signedIn: boolean;
}
