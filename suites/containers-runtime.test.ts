// The containers runtime's own promises: runtime selection and what it records, one-line errors
// for a missing image, and nothing left behind after a failed start or a kill -9 of the harness.
// Runs where the containers runtime can (see support/runtimes-setup.ts).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { containersRuntime } from '../src/runtime/containers/containers-runtime.js';
import type { TopologySpec } from '../src/runtime/runtime.js';
import { lanePath } from '../src/proxy/lanes.js';
import { readHistoryFile } from '../src/history/history-file.js';
import type { CaptureEndRecord, CaptureRecord, TrialRecord } from '../src/history/records.js';
import { runCaptures } from '../src/capture/run-capture.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const unavailable = inject('containersUnavailable');
// In CI a missing engine must fail, as one test with the reason (support/runtimes-setup.ts).
const describeContainers = unavailable === null ? describe : describe.skip;
if (unavailable !== null && inject('containersRequired')) {
  describe('containers runtime', () => {
    it('has a containers runtime to run on', () => {
      throw new Error(`the containers runtime cannot run: ${unavailable}`);
    });
  });
}

/** Containers and networks Testcontainers made, except its reaper. */
function leftovers(): string[] {
  // Testcontainers names its reaper testcontainers-ryuk-SESSION; it goes by itself, ~2 s after
  // the last process using it (TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT).
  const containers = execFileSync('docker', ['ps', '-a', '--filter', 'label=org.testcontainers=true', '--format', '{{.ID}} {{.Names}} {{.Image}}'], { encoding: 'utf8' })
    .split('\n').filter((line) => line.trim() !== '' && !/ testcontainers-ryuk-/.test(line));
  const networks = execFileSync('docker', ['network', 'ls', '--filter', 'label=org.testcontainers=true', '--format', 'network {{.ID}} {{.Name}}'], { encoding: 'utf8' })
    .split('\n').filter((line) => line.trim() !== '');
  return [...containers, ...networks];
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
}

const SPEC: TopologySpec = {
  proxy: { flavour: 'nginx', lanes: 2, keepaliveTimeoutMs: 60_000, keepaliveRequests: 1000, keepaliveConnections: 1, retry: 'off', workerProcesses: 1 },
  upstream: { keepAliveTimeoutMs: 100, closeMode: 'exact', closeStyle: 'fin' },
};

describeContainers('containers runtime', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-suite-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('sweep --runtime containers writes summary.json with runtime "containers" and the images it ran', () => {
    const out = path.join(tmp, 'run');
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'containers', '--proxy-timeout', '60s', '--methods', 'POST', '--retry', 'off',
      '--offsets', '-1ms,0ms', '--trials', '5', '--lanes', '4', '--probe-samples', '5', '--fault', 'latency:upstream:1ms', '--capture', '--out', out, '--no-progress'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^runtime: containers$/m);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { runtime: string; versions: Record<string, string>; cells: { faults: unknown[]; path: string }[] };
    expect(summary.runtime).toBe('containers');
    expect(summary.versions).toMatchObject({ nginxImage: expect.any(String), nodeImage: expect.any(String), toxiproxy: expect.any(String), nginx: expect.any(String), upstreamNode: expect.any(String) });
    expect(summary.cells[0]).toMatchObject({ path: 'toxiproxy', faults: [expect.objectContaining({ type: 'latency', stream: 'upstream' })] });
    expect(leftovers()).toEqual([]);
    // --capture on this runtime: tcpdump on the network's bridge, and an answered trial's packets
    // found on each hop (client -> proxy -> Toxiproxy -> upstream) by its id. (A failed one may
    // stop short: 13 of 65 failures in one run met Toxiproxy closing the proxy's connection, its
    // upstream side closed already, and got an RST from it, never forwarded.)
    const history = readHistoryFile(path.join(out, 'trials.jsonl'));
    const capture = history.find((r): r is CaptureRecord => r.type === 'capture')!;
    expect(capture.iface).toMatch(/^br-[0-9a-f]{12}$/);
    expect(capture.listeners.map((l) => l.role)).toEqual(['proxy', 'fault layer', 'upstream']);
    expect(history.find((r): r is CaptureEndRecord => r.type === 'capture-end')).toMatchObject({ captured: expect.any(Number), dropped: 0 });
    const trial = history.find((r): r is TrialRecord => r.type === 'trial' && r.errorClass === 'ok')!;
    const wire = runCaptures(out, history).find(trial);
    expect(wire.found, wire.missing ?? '').not.toBeNull();
    expect(wire.found!.connections.map((c) => `${c.from}->${c.to}`)).toEqual(['client->proxy', 'proxy->fault layer', 'fault layer->upstream']);
    expect(wire.capture!.clockErrorMs).toBeLessThan(0.2);
  });

  it('sweep --proxy haproxy runs on the containers runtime: its image recorded, its race a closed connection, never a 502', () => {
    const out = path.join(tmp, 'haproxy-run');
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'containers', '--proxy', 'haproxy', '--proxy-timeout', '60s', '--upstream-timeout', '100ms',
      '--methods', 'GET', '--retry', 'default', '--offsets', '-2ms..0.5ms@0.5ms', '--trials', '60', '--out', out, '--no-progress'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^runtime: containers$/m);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { versions: Record<string, string>; cells: { trials: number; failures: number; status502: number; closedWithoutResponse: number }[] };
    expect(summary.versions.haproxyImage).toBeDefined();
    const [cell] = summary.cells;
    // Measured on this runtime: 14 of 510 GETs aimed at -20..+20 ms failed, all between -2.9 and -0.6 ms of the close (core window [-1.5, -0.5) ms),
    // every one a connection closed without a status. Aimed at the close only, some must fail.
    expect(cell!.failures, `${cell!.failures}/${cell!.trials}`).toBeGreaterThan(0);
    expect(cell!.status502).toBe(0);
    expect(cell!.closedWithoutResponse).toBe(cell!.failures);
    expect(fs.readdirSync(path.join(out, 'logs')).some((file) => file.endsWith('.haproxy.cfg'))).toBe(true);
  });

  it('--runtime auto picks containers when an engine answers, and says so', () => {
    const out = path.join(tmp, 'auto');
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'auto', '--proxy-timeout', '60s', '--methods', 'POST', '--retry', 'off',
      '--offsets', '0ms', '--trials', '2', '--lanes', '2', '--probe-samples', '3', '--out', out, '--no-progress'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^runtime: containers \(auto: a Docker engine answered\)$/m);
  });

  it('a missing image: one line naming the variable to set, exit 2, nothing started', () => {
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'containers', '--out', path.join(tmp, 'missing'), '--no-progress'],
      { encoding: 'utf8', env: { ...process.env, KEEPALIVE_LAB_NGINX_IMAGE: 'keepalive-lab/no-such-image:0' } });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('npm warn'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/nginx image "keepalive-lab\/no-such-image:0" .* set KEEPALIVE_LAB_NGINX_IMAGE/);
    expect(fs.existsSync(path.join(tmp, 'missing', 'trials.jsonl'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('an upstream that cannot start: the error says what it printed, and no container or network is left', async () => {
    const runtime = await containersRuntime();
    // RST closes need the exact mode: the upstream program refuses this and exits before it listens.
    const start = runtime.start({ ...SPEC, upstream: { ...SPEC.upstream, closeMode: 'stock', closeStyle: 'rst' }, faultLayer: { faults: [] } });
    const error = await start.then(() => null, (reason: Error) => reason);
    expect(error?.message).toMatch(/upstream container did not start.*--close-style rst needs --close-mode exact/);
    expect(leftovers()).toEqual([]);
  });

  it('the upstream\'s events come through a directory only this user can reach (0700), written by the upstream as this user', async () => {
    const before = new Set(fs.readdirSync(os.tmpdir()));
    const runtime = await containersRuntime();
    const topology = await runtime.start(SPEC);
    try {
      const eventsDirs = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('keepalive-lab-events-') && !before.has(name));
      expect(eventsDirs).toHaveLength(1);
      const stat = fs.statSync(path.join(os.tmpdir(), eventsDirs[0]!));
      expect(stat.mode & 0o777).toBe(0o700);
      // The upstream still writes there: a request's connection shows up in its events.
      const answer = await fetch(`http://${topology.proxy.host}:${topology.proxy.port}${lanePath(0)}`);
      expect(answer.status).toBe(200);
      await answer.text();
      const events: string[] = [];
      await until(() => events.push(...topology.drainUpstreamEvents().map((event) => event.ev)) > 0 && events.includes('response'), 5000);
      expect(events).toContain('open');
      expect(events).toContain('response');
    } finally {
      await topology.stop();
    }
  });

  it('kill -9 of the harness mid-sweep: no container or network left after 10 s', async () => {
    const child = spawn(process.execPath, [CLI, 'sweep', '--runtime', 'containers', '--upstream-timeout', '1s', '--proxy-timeout', '60s', '--trials', '1000',
      '--lanes', '8', '--fault', 'latency:upstream:1ms', '--out', path.join(tmp, 'killed'), '--no-progress'], { stdio: 'ignore' });
    try {
      // Wait for the whole topology: nginx is the last container to start.
      await until(() => leftovers().some((line) => line.includes('nginx')), 60_000);
      expect(leftovers().filter((line) => !line.startsWith('network')).length).toBe(3);
    } finally {
      child.kill('SIGKILL');
    }
    await until(() => leftovers().length === 0, 10_000);
    expect(leftovers()).toEqual([]);
  });
});
