// The gate with the user's upstream as an image (--upstream-image IMAGE --upstream-port N), on
// the Docker engine: a user-style app image (the Node fixture app on the configured Node image)
// behind a rendered nginx, its keep-alive settings given with --upstream-env as a deploy would.
// The gate's fix, applied, passes; a missing image is one line and exit 2; no container is left.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenericContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GateResult } from '../src/gate/gate-result.js';
import { configuredImages } from '../src/runtime/containers/image-names.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/gate/', import.meta.url));
const IMAGE = 'keepalive-lab-test/user-app:1';
const unavailable = inject('containersUnavailable');
const required = inject('containersRequired');

function gate(args: string[]) {
  // No run directory: it would be written into the checkout's runs/ (these claims read the verdict).
  const result = spawnSync(process.execPath, [CLI, 'gate', ...args, '--no-record'], { encoding: 'utf8', timeout: 170_000 });
  return { ...result, json: () => JSON.parse(result.stdout) as GateResult };
}

/** Containers the gate started (labelled keepalive-lab=gate-upstream) that are still there. */
function leftContainers(): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', 'label=keepalive-lab=gate-upstream'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe.skipIf(unavailable !== null && !required)(`gate --upstream-image (Docker engine)${unavailable !== null && !required ? ` (skipped: ${unavailable})` : ''}`, () => {
  let context: string;
  beforeAll(async () => {
    if (unavailable !== null) throw new Error(`the containers runtime cannot run: ${unavailable}`);
    context = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-gate-image-'));
    fs.copyFileSync(path.join(FIXTURES, 'node-upstream.mjs'), path.join(context, 'server.mjs'));
    // As app images do, it listens on every interface of its container (HOST=0.0.0.0).
    fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${configuredImages().node.reference}\nCOPY server.mjs /app/server.mjs\nENV HOST=0.0.0.0\nCMD ["node", "/app/server.mjs"]\n`);
    await GenericContainer.fromDockerfile(context).build(IMAGE, { deleteOnExit: false });
  }, 120_000);
  afterAll(() => {
    if (context) fs.rmSync(context, { recursive: true, force: true });
    spawnSync('docker', ['rmi', '-f', IMAGE]);
  });

  it('keepAliveTimeout 500 behind nginx 2s: fails with the fix; the fix, applied through --upstream-env, passes', () => {
    const image = ['--upstream-image', IMAGE, '--upstream-port', '3000', '--proxy-timeout', '2s', '--method', 'POST', '--body', '{}', '--json'];
    const unsafe = gate([...image, '--upstream-env', 'KEEP_ALIVE_TIMEOUT=500']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    const failing = unsafe.json();
    expect(failing).toMatchObject({ outcome: 'fail', decisive: { boundary: 'upstream' } });
    expect(failing.upstream.label).toContain(IMAGE);
    expect(failing.upstream.probe!.medianCloseMs).toBeGreaterThan(1400);
    expect(failing.status502).toBeGreaterThan(0);
    const { nodeKeepAliveTimeoutMs, nodeHeadersTimeoutMs } = failing.fix!;
    const fixed = gate([...image, '--upstream-env', `KEEP_ALIVE_TIMEOUT=${nodeKeepAliveTimeoutMs}`, '--upstream-env', `HEADERS_TIMEOUT=${nodeHeadersTimeoutMs}`, '--max-idle-wait', '1s']);
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(fixed.json()).toMatchObject({ outcome: 'pass', decisive: { boundary: 'order' } });
    expect(leftContainers()).toEqual([]);
  });

  it('an image the engine does not have: one line, exit 2, no container', () => {
    const result = gate(['--upstream-image', 'keepalive-lab-test/no-such-app:0', '--upstream-port', '3000', '--proxy-timeout', '2s']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(/^keepalive-lab: upstream image "keepalive-lab-test\/no-such-app:0" is not on the Docker engine and could not be pulled .*: build or pull it first, or give --upstream-image an image the engine has$/);
    expect(leftContainers()).toEqual([]);
  });
});
