import { MemoryBackend, runBackendConformance } from '../../src/testing/index.ts';

runBackendConformance({
  name: 'memory',
  makeBackend: (clock) => ({ backend: new MemoryBackend({ clock }) }),
});
