/**
 * Prints where a `.cpuprofile` (from `node --cpu-prof`) spent its time: the functions
 * with the most self time, and the share of each source file. Usage:
 * `npx tsx bench/diagnostics/summarize-cpu-profile.ts <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topText] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: summarize-cpu-profile.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

// Each sample is charged with the time until the next one (the delta stored with that next sample).
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index + 1] ?? 0));
});
const total = [...selfMicros.values()].reduce((sum, micros) => sum + micros, 0);

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)?.callFrame;
  if (!frame) continue;
  const where = frame.url === '' ? '(native)' : frame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/');
  const name = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byFile.set(where, (byFile.get(where) ?? 0) + micros);
}

const share = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
const top = Number(topText ?? 25);
console.log(`${(total / 1000).toFixed(0)} ms sampled\n\nSelf time by function:`);
for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${share(micros)}  ${name}`);
console.log('\nSelf time by file:');
for (const [where, micros] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${share(micros)}  ${where}`);
