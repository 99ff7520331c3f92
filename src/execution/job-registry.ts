import { type AnyJob, type JobDefinition, toJobDefinition } from '../domain/define-job.ts';
import { InvalidOptionError, UnknownJobError } from '../domain/errors.ts';

/** The jobs a client or worker knows, by name. Two different definitions may not share a name. */
export class JobRegistry {
  private readonly byName = new Map<string, JobDefinition>();

  constructor(jobs: readonly AnyJob[] = []) {
    for (const job of jobs) this.add(job);
  }

  add(job: AnyJob): JobDefinition {
    const definition = toJobDefinition(job);
    const existing = this.byName.get(definition.name);
    if (existing && existing !== definition) {
      throw new InvalidOptionError('jobs', definition.name, 'one definition per job name; two were given');
    }
    this.byName.set(definition.name, definition);
    return definition;
  }

  /** The definition named `name`; throws `UnknownJobError` when there is none. */
  get(name: string): JobDefinition {
    const definition = this.byName.get(name);
    if (!definition) throw new UnknownJobError(name, this.names());
    return definition;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  definitions(): JobDefinition[] {
    return [...this.byName.values()];
  }
}
