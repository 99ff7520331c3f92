// `jobsmith/testing`: what users need to test their own jobs, with any test runner (nothing here imports one).
// These declarations use Node's types: load them for projects that list no `types`.
/// <reference types="node" preserve="true" />
export { FakeClock } from './fake-clock.ts';
export type { FakeClockOptions } from './fake-clock.ts';
export { MemoryBackend } from '../backends/memory/memory-backend.ts';
export type { MemoryBackendOptions } from '../backends/memory/memory-backend.ts';
