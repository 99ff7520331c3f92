/**
 * The no-op job for the sidequest adapters, in a file of its own: sidequest records the
 * path of the file that exports a job's class when the job is enqueued, and the worker
 * imports that file to run it. The worker's handler is handed over through a global,
 * since sidequest constructs the job itself.
 */
import { importPeer } from './peer-module.ts';
import type { BenchJob } from './system-adapter.ts';

declare global {
  // eslint-disable-next-line no-var
  var jobsmithBenchSidequestOnJobStart: ((job: BenchJob) => void) | undefined;
}

type JobBaseClass = abstract new () => object;

const { Job } = await importPeer<{ Job: JobBaseClass }>('sidequest');

export class BenchNoopJob extends Job {
  // Explicit, so this file is on the stack sidequest reads to find where the class lives.
  constructor() {
    super();
  }

  run(job: BenchJob): void {
    const onJobStart = globalThis.jobsmithBenchSidequestOnJobStart;
    if (!onJobStart) throw new Error('a sidequest bench job ran in a process with no running bench worker');
    onJobStart(job);
  }
}
