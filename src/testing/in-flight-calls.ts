import type { Backend } from '../contract/backend.ts';

/**
 * Counts backend calls still in flight, so a fake clock can wait for the work a timer
 * woke to finish before it fires the next timer. A store in this process answers within
 * a few callbacks; one across the network needs this to be deterministic.
 */
export class InFlightCalls {
  private count = 0;

  /** The same backend, with every promise-returning call counted while it runs. */
  wrap(backend: Backend): Backend {
    return new Proxy(backend, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) {
            this.count++;
            const done = () => {
              this.count--;
            };
            result.then(done, done);
          }
          return result;
        };
      },
    });
  }

  /** Resolves once no call has been in flight for a few turns of the event loop. */
  readonly idle = async (): Promise<void> => {
    let quiet = 0;
    for (let round = 0; round < 5000 && quiet < 4; round++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.count === 0) quiet++;
      else {
        quiet = 0;
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
      }
    }
  };
}
