import { describe, expect, it } from 'vitest';
import { defineJob } from '../../src/domain/define-job.ts';
import { JobTemplates, optionsOrNone, prepareSchemalessJob } from '../../src/execution/prepare-job.ts';

const now = Date.UTC(2026, 0, 1);
const mail = defineJob({ name: 'mail', queue: 'mail', maxAttempts: 5, run: () => null });
const other = defineJob({ name: 'other', run: () => null });

describe('job templates of one call', () => {
  it('jobs without options of one definition share one resolved template; each still gets its own id and payload', () => {
    const templates = new JobTemplates();
    const [a, b] = [1, 2].map((payload) => prepareSchemalessJob(mail, payload, optionsOrNone(undefined), now, templates));
    expect(a!.metadata).toBe(b!.metadata);
    expect(a!.id).not.toBe(b!.id);
    expect([a!.payload, b!.payload]).toEqual(['1', '2']);
    expect(a).toMatchObject({ name: 'mail', queue: 'mail', maxAttempts: 5, runAt: now, createdAt: now, key: null });
    const otherJob = prepareSchemalessJob(other, 3, optionsOrNone(undefined), now, templates);
    expect(otherJob).toMatchObject({ name: 'other', queue: 'default' });
    expect(otherJob.metadata).not.toBe(a!.metadata);
  });

  it('jobs given options, even empty ones, resolve their own', () => {
    const templates = new JobTemplates();
    const plain = prepareSchemalessJob(mail, 1, optionsOrNone(undefined), now, templates);
    const empty = prepareSchemalessJob(mail, 1, {}, now, templates);
    const delayed = prepareSchemalessJob(mail, 1, { delay: 1000, metadata: { tag: 't' } }, now, templates);
    expect(empty.metadata).not.toBe(plain.metadata);
    expect(delayed).toMatchObject({ runAt: now + 1000, metadata: { tag: 't' } });
    expect(prepareSchemalessJob(mail, 1, optionsOrNone(undefined), now, templates).metadata).toBe(plain.metadata);
  });
});
