import { MemoryBackend } from '../../src/testing/index.ts';
import { runBackendConformance } from '../../src/testing/conformance/index.ts';

runBackendConformance({
  name: 'memory',
  makeBackend: (clock) => ({ backend: new MemoryBackend({ clock }) }),
});
