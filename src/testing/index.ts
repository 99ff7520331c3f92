// `jobsmith/testing`: what users need to test their own jobs, and what a new backend needs to prove itself.
export { FakeClock } from './fake-clock.ts';
export { MemoryBackend } from '../backends/memory/memory-backend.ts';
export { runBackendConformance } from './conformance.ts';
export type { ConformanceOptions, ConformanceHarness } from './conformance.ts';
