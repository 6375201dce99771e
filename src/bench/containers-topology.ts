// `npm run bench:containers`: how long the containers runtime takes to bring a topology up and
// down (the budget: up in 5 s, down in 2 s), with and without the fault layer.
import { parseArgs } from 'node:util';
import { containersRuntime } from '../runtime/load-containers.js';
import type { TopologySpec } from '../runtime/runtime.js';
import { quantile } from '../util/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, lanes: { type: 'string', default: '64' } } });
const rounds = Number(values.rounds);
const runtime = await containersRuntime();
const spec: TopologySpec = {
  proxy: { flavour: 'nginx', lanes: Number(values.lanes), keepaliveTimeoutMs: 60_000, keepaliveRequests: 1000, keepaliveConnections: 1, retry: 'off', workerProcesses: 1 },
  upstream: { keepAliveTimeoutMs: 100, closeMode: 'exact', closeStyle: 'fin' },
};
process.stdout.write(`containers runtime, ${JSON.stringify(runtime.versions)}\n`);
for (const withFaults of [false, true]) {
  const up: number[] = [];
  const down: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const topology = await runtime.start(withFaults ? { ...spec, faultLayer: { faults: [] } } : spec);
    const ready = performance.now();
    // One request through the whole chain, so "up" means usable, not merely started.
    const response = await fetch(`http://${topology.proxy.host}:${topology.proxy.port}/lane/0/?t=bench`);
    await response.text();
    if (response.status !== 200) throw new Error(`request through the topology answered ${response.status}`);
    const stopping = performance.now();
    await topology.stop();
    up.push(ready - started);
    down.push(performance.now() - stopping);
  }
  const fmt = (values: number[]) => `median ${(quantile(values, 0.5) / 1000).toFixed(2)} s, max ${(Math.max(...values) / 1000).toFixed(2)} s`;
  process.stdout.write(`${withFaults ? 'nginx + toxiproxy + upstream' : 'nginx + upstream'} (${rounds} rounds): up ${fmt(up)}; down ${fmt(down)}\n`);
}
