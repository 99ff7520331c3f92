/**
 * Samples this process's resident set size while a worker runs and keeps the peak.
 * Sampling in the measured process itself (rather than `ps` from outside) gives the
 * worker's own memory, free of the parent's.
 */
export class RssSampler {
  private peak = 0;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  /** Starts sampling every `intervalMs`; returns the RSS now. */
  start(intervalMs = 10): number {
    const now = this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return now;
  }

  /** Stops sampling, taking one last sample; returns the peak. */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peak;
  }

  get samples(): number {
    return this.count;
  }

  private sample(): number {
    // `memoryUsage.rss()` skips the V8 heap statistics `memoryUsage()` gathers: cheap enough for 100 samples a second.
    const rss = process.memoryUsage.rss();
    this.peak = Math.max(this.peak, rss);
    this.count++;
    return rss;
  }
}
