// The gate's benchmark cases, shaped like real deployments, with the verdict each must reach and
// the goal of the gate's rebuild (issue 14) on this 2-core machine. `bench:gate` times them once;
// `bench:gate-trust` runs each many times and counts wrong verdicts. The upstream is the harness's
// own upstream program (`stock`: Node's own keep-alive handling, closing about keepAliveTimeout
// + 1 s; `exact`: closing at K), or Python's standard library server with its own backlog of 5.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GateInput } from '../api.js';

const UPSTREAM = fileURLToPath(new URL('../../containers/upstream/upstream-server.mjs', import.meta.url));
const PYTHON = fileURLToPath(new URL('../../suites/fixtures/gate/python-upstream.py', import.meta.url));

export interface GateCase {
  name: string;
  /** What the verdict must be, and within how many seconds (the rebuild's goal on 2 cores). */
  expect: 'pass' | 'fail';
  goalSeconds: number;
  input: GateInput;
}

const upstream = (close: 'stock' | 'exact', keepAliveMs: number) =>
  `node ${path.relative(process.cwd(), UPSTREAM)} --close-mode ${close} --keep-alive-timeout ${keepAliveMs}`;

export const GATE_CASES: GateCase[] = [
  ...(['GET', 'POST'] as const).map((method): GateCase => ({
    name: `node-defaults-behind-60s-${method}`, expect: 'fail', goalSeconds: 20,
    input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('stock', 5000), method },
  })),
  { name: 'keepalive-3s-behind-2s', expect: 'pass', goalSeconds: 120, input: { proxyTimeoutMs: 2000, upstreamCmd: upstream('stock', 3000) } },
  ...(['GET', 'POST'] as const).map((method): GateCase => ({
    name: `close-200ms-behind-60s-${method}`, expect: 'fail', goalSeconds: 10,
    input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('exact', 200), method },
  })),
  { name: 'close-1.5s-behind-500ms', expect: 'pass', goalSeconds: 60, input: { proxyTimeoutMs: 500, upstreamCmd: upstream('exact', 1500) } },
  { name: 'keepalive-65s-behind-60s', expect: 'pass', goalSeconds: 30, input: { proxyTimeoutMs: 60_000, upstreamCmd: upstream('stock', 65_000) } },
  // A non-Node upstream with the standard library's listen backlog (5): a burst of new
  // connections overflows it. Safe on keep-alive, so any FAIL would be the gate's own storm.
  { name: 'python-backlog-5-idle-1.5s-behind-500ms', expect: 'pass', goalSeconds: 60,
    input: { proxyTimeoutMs: 500, upstreamCmd: `python3 ${path.relative(process.cwd(), PYTHON)}`, upstreamEnv: { IDLE_TIMEOUT: '1.5', BACKLOG: '5' } } },
];

/** A case's time budget: three times its goal (at least 2 min), so that a slow run still ends in a verdict. */
export const budgetSeconds = (gateCase: GateCase) => Math.max(120, gateCase.goalSeconds * 3);
