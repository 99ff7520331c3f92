import { EventEmitter } from 'node:events';
import type { Logger } from '../domain/logger.ts';

/**
 * A typed EventEmitter whose listeners cannot hurt the emitter: each is called on
 * its own, and one that throws is reported to `error:` listeners (or the logger)
 * while the rest still run.
 */
export class SafeEmitter<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
  constructor(
    private readonly errorEvent: keyof Events,
    protected readonly logger: Logger,
  ) {
    super();
  }

  /**
   * Whether anything listens to `event`. A hot path checks it before it builds an event's
   * object: most workers listen to few events, and a worker at thousands of jobs a second
   * built several objects per job that nobody read.
   */
  protected listens(event: keyof Events): boolean {
    return this.listenerCount(event as never) > 0;
  }

  /** Calls every listener of `event`, isolating failures. Returns whether any listened. */
  protected safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    // No listener: no copy of the (empty) listener list.
    if (this.listenerCount(event as never) === 0) return false;
    const listeners = this.listeners(event as never) as unknown as Array<(...args: Events[K]) => unknown>;
    for (const listener of listeners) {
      try {
        const returned = listener.apply(this, args);
        if (returned instanceof Promise) returned.catch((error: unknown) => this.listenerFailed(event, error));
      } catch (error) {
        this.listenerFailed(event, error);
      }
    }
    return listeners.length > 0;
  }

  private listenerFailed(event: keyof Events, error: unknown): void {
    this.logger.error({ err: error, event: String(event) }, 'an event listener threw');
    if (event === this.errorEvent) return;
    this.safeEmit(this.errorEvent, ...([{ error, during: `listener of ${String(event)}` }] as unknown as Events[keyof Events]));
  }
}
