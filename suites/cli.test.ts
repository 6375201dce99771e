// The command as a user meets it: real processes, exit codes, files, and cleanup on Ctrl-C.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readHistoryFile } from '../src/history/history-file.js';
import type { UpstreamEventRecord } from '../src/history/records.js';
import { startLocalUpstream, type LocalUpstream } from '../src/upstream/local-upstream.js';
import { freePort } from '../src/util/ports.js';
import { interruptOnceTrialsAreWritten } from './support/interrupt.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-cli-test-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI with its own TMPDIR, so that anything it leaves behind is visible. */
function cli(args: string[]) {
  const tmpdir = path.join(tmp, 'tmpdir');
  fs.mkdirSync(tmpdir, { recursive: true });
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmpdir }, timeout: 120_000 });
}

function harnessProcesses(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(tmp));
}

describe('the installed command', () => {
  it('runs as an executable (package bin), as npx runs it', () => {
    const result = spawnSync(CLI, ['--help'], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Usage: keepalive-lab/);
  });
});

describe('bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown flag', ['sweep', '--bogus'], /unknown option '--bogus'/],
    ['a bad duration', ['sweep', '--proxy-timeout', '60s,soon'], /--proxy-timeout: "soon" is not a duration/],
    ['a bad method', ['sweep', '--methods', 'PUT'], /--methods:/],
    ['a missing nginx', ['sweep', '--nginx-bin', '/nonexistent/nginx'], /nginx binary "\/nonexistent\/nginx" not found: install it with "sudo apt-get install -y nginx"/],
    ['a bad config field', ['sweep', '--config', '__CONFIG__'], /config file .*: lanes: Too small/],
    ['a probe URL that is not a URL', ['probe', '--url', 'nowhere'], /--url: "nowhere" is not a URL/],
    ['a bad fault', ['sweep', '--fault', 'latency:upstream:soon'], /--fault\/--faults: fault "latency:upstream:soon": "soon" is not a duration/],
    ['a bad toxiproxy port', ['toxiproxy', '--port', '99999'], /--port: "99999" is not a port number/],
    ['explain of a directory with no run', ['explain', '__TMP__'], /has no trials\.jsonl: give the --out directory of a sweep/],
    ['a bad runtime', ['sweep', '--runtime', 'docker'], /--runtime: .*"containers"/],
    ['clients without --proxy none', ['sweep', '--clients', 'undici'], /--clients: the clients are measured without a proxy: add --proxy none/],
    ['no proxy on containers', ['sweep', '--proxy', 'none', '--runtime', 'containers'], /--proxy none runs on the local runtime only .*: use --runtime local/],
    ['a missing haproxy', ['sweep', '--proxy', 'haproxy', '--haproxy-bin', '/nonexistent/haproxy'], /haproxy binary "\/nonexistent\/haproxy" not found: install it with "sudo apt-get install -y haproxy"/],
    ['a soak rate of 0', ['soak', '--rate', '0'], /--rate: must be above 0/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: one line, exit 2, nothing started or written`, () => {
      const config = path.join(tmp, 'bad.json');
      fs.writeFileSync(config, JSON.stringify({ lanes: 0 }));
      const out = path.join(tmp, 'out');
      const result = cli([...args.map((arg) => (arg === '__CONFIG__' ? config : arg === '__TMP__' ? tmp : arg)), ...(args[0] === 'sweep' ? ['--out', out] : [])]);
      expect(result.status).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(path.join(tmp, 'tmpdir'))).toEqual([]);
      expect(harnessProcesses()).toEqual([]);
    });
  }

  it('a probe of an address where nothing listens: one line naming the address, exit 2', async () => {
    const result = cli(['probe', '--url', `http://127.0.0.1:${await freePort()}/`, '--samples', '3']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/nothing listens at 127\.0\.0\.1:\d+ \(connection refused\)/);
  });
});

describe('probe', () => {
  let upstream: LocalUpstream;
  afterEach(async () => upstream?.stop());

  it('prints the contract fields as JSON, for any HTTP/1.1 address', async () => {
    upstream = await startLocalUpstream({ keepAliveTimeoutMs: 200, closeMode: 'exact', closeStyle: 'fin' }, 0, path.join(tmp, 'events.jsonl'));
    const result = cli(['probe', '--url', `http://127.0.0.1:${upstream.port}/`, '--samples', '12', '--json']);
    expect(result.status).toBe(0);
    const probe = JSON.parse(result.stdout) as { samples: number; medianCloseMs: number; p5CloseMs: number; p95CloseMs: number };
    expect(probe.samples).toBe(12);
    // exact mode never closes before K; the tolerance above covers timer ticks on a busy machine.
    expect(probe.p5CloseMs).toBeGreaterThan(199);
    expect(probe.medianCloseMs).toBeLessThan(210);
    expect(probe.p95CloseMs).toBeGreaterThanOrEqual(probe.medianCloseMs);
  });
});

describe('sweep', () => {
  it('writes the run directory, and report DIR rebuilds it from trials.jsonl alone', () => {
    const out = path.join(tmp, 'run');
    const result = cli(['sweep', '--proxy-timeout', '60s', '--upstream-timeout', '100ms', '--methods', 'POST', '--retry', 'off',
      '--offsets', '-2ms..1ms@0.5ms', '--trials', '10', '--lanes', '16', '--out', out, '--no-progress']);
    expect(result.stderr).not.toMatch(/keepalive-lab: /);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/\| proxy P \| upstream K \|/);
    for (const file of ['trials.jsonl', 'summary.json', 'summary.csv', 'report.md']) expect(fs.existsSync(path.join(out, file))).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ runtime: 'local', proxy: 'nginx', versions: { nginx: expect.any(String), node: process.version } });
    expect(summary.cells).toHaveLength(1);
    const [cell] = summary.cells;
    for (const key of ['proxyTimeoutMs', 'upstreamTimeoutMs', 'upstreamClose', 'effectiveCloseMs', 'method', 'retry', 'trials', 'ok',
      'status502', 'failures', 'failureRate', 'rate502', 'failureRateCi95', 'bins']) expect(cell).toHaveProperty(key);
    // 7 offsets x 10, plus the trials of any block fired again in place of a disturbed one.
    const refired = readHistoryFile(path.join(out, 'trials.jsonl')).reduce((sum, record) => sum + (record.type === 'block' && record.replaces !== undefined ? record.trials : 0), 0);
    expect(cell.trials).toBe(70 + refired);
    expect(cell.bins[0]).toEqual({ boundary: 'upstream', gapOffsetMs: expect.any(Number), trials: expect.any(Number), failures: expect.any(Number), status502: expect.any(Number), failedAttempts: expect.any(Number) });

    const before = fs.readFileSync(path.join(out, 'summary.json'), 'utf8');
    fs.rmSync(path.join(out, 'summary.json'));
    fs.rmSync(path.join(out, 'report.md'));
    expect(cli(['report', out]).status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(out, 'report.md'))).toBe(true);
    expect(fs.readdirSync(path.join(tmp, 'tmpdir'))).toEqual([]);
  });

  it('the history tells every upstream connection to its close, the ones the teardown closed included', () => {
    // K 1 s behind 60 s: at the end the proxy still holds idle connections, closed only as it stops.
    const out = path.join(tmp, 'complete');
    const result = cli(['sweep', '--proxy-timeout', '60s', '--upstream-timeout', '1s', '--methods', 'GET', '--retry', 'off',
      '--offsets', '-5ms', '--trials', '2', '--lanes', '2', '--probe-samples', '3', '--out', out, '--no-progress']);
    expect(result.status, result.stderr).toBe(0);
    const events = readHistoryFile(path.join(out, 'trials.jsonl')).filter((record): record is UpstreamEventRecord => record.type === 'upstream');
    const opened = events.filter((event) => event.ev === 'open').map((event) => event.conn);
    const closed = new Set(events.filter((event) => event.ev === 'close').map((event) => event.conn));
    expect(opened.length).toBeGreaterThan(0);
    // Before, the closes written while the topology stopped came after the last drain and were lost.
    expect(opened.filter((conn) => !closed.has(conn))).toEqual([]);
  });

  it('explain DIR prints a failed trial\'s timeline: the upstream closed the connection and the request never reached it', () => {
    const out = path.join(tmp, 'explained');
    // Aimed at the core of the window (K = 100 ms exact, POST, no retry): measured 12% failing
    // over these offsets, so 120 trials all passing has a chance below 1e-6.
    const sweep = spawnSync(process.execPath, [CLI, 'sweep', '--proxy-timeout', '60s', '--methods', 'POST', '--retry', 'off', '--offsets=-1.5ms,-1ms,-0.5ms',
      '--trials', '40', '--lanes', '8', '--out', out, '--no-progress'], { encoding: 'utf8' });
    expect(sweep.status, sweep.stderr).toBe(0);
    const result = spawnSync(process.execPath, [CLI, 'explain', out], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^trial c0\.\d+ \(cell P60000-K100-exact-POST-off, lane \d+, block \d+\): 502, aimed [-+]?\d+(\.\d+)? ms \(in the stratum of [-+]?\d+(\.\d+)?\)/);
    expect(lines[1]).toMatch(/\+0\.000 ms {2}upstream +answer to .* left on connection \d+/);
    expect(result.stdout).toMatch(/connection \d+ closed, as the upstream recorded it \(server-idle, idle 10\d\.\d+ ms\)/);
    expect(result.stdout).toMatch(/client +request POST written/);
    expect(result.stdout).toMatch(/proxy +error: (prematurely_closed|reset_by_peer)/);
    // (Not necessarily the second-last line: the upstream's own record of its close can come
    // after the 502, as its close event waits for the proxy's side; seen once in ~12.)
    // The timeline ends with whether the request reached the upstream; the cell's window follows.
    const end = lines.indexOf('  the request never reached the upstream');
    expect(end).toBeGreaterThan(2);
    expect(lines.slice(2, end).some((line) => /client +status 502/.test(line))).toBe(true);
    expect(lines[end + 1]).toMatch(/^Window width W at the upstream boundary: \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] ms of certain failure/);
    expect(lines[end + 2]).toMatch(/^Load: 8 lanes, [\d.]+ s of firing/);
    // report.md shows the same timelines for a few failures of each cell.
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('### Sample failures');
    expect(report).toContain(lines.slice(0, 3).join('\n'));
    const missing = spawnSync(process.execPath, [CLI, 'explain', out, '--trial', 'nope'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^keepalive-lab: --trial: no trial "nope"/);
  });

  it('Ctrl-C stops every process, removes temp dirs and keeps what was measured', async () => {
    const out = path.join(tmp, 'interrupted');
    const tmpdir = path.join(tmp, 'tmpdir');
    fs.mkdirSync(tmpdir, { recursive: true });
    // Interrupted once trials are being written, its whole process group as a terminal does.
    let runningBefore = 0;
    const { code, stderr } = await interruptOnceTrialsAreWritten(CLI,
      ['sweep', '--upstream-timeout', '1s', '--proxy-timeout', '60s', '--methods', 'POST', '--trials', '1000', '--lanes', '32', '--out', out, '--no-progress'],
      out, { ...process.env, TMPDIR: tmpdir }, () => { runningBefore = harnessProcesses().length; });
    expect(runningBefore).toBeGreaterThan(0);
    const historyPath = path.join(out, 'trials.jsonl');
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT received/);
    expect(harnessProcesses()).toEqual([]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
    const trials = fs.readFileSync(historyPath, 'utf8').split('\n').filter((line) => line.includes('"type":"trial"'));
    expect(trials.length).toBeGreaterThan(0);
    // Through nginx the client sees 200 or 502; a close or reset would be the teardown leaking
    // into the measurement.
    expect(trials.filter((line) => !/"errorClass":"(ok|502)"/.test(line))).toEqual([]);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.cells[0].trials).toBe(trials.length);
    expect(summary.cells[0].completed).toBe(false);
  });

  it('a second Ctrl-C while it stops does not cut the stop short: the reports are still written', async () => {
    const out = path.join(tmp, 'interrupted-twice');
    const tmpdir = path.join(tmp, 'tmpdir');
    fs.mkdirSync(tmpdir, { recursive: true });
    const { code, stderr, hadTrials } = await interruptOnceTrialsAreWritten(CLI,
      ['sweep', '--upstream-timeout', '1s', '--proxy-timeout', '60s', '--methods', 'POST', '--trials', '1000', '--lanes', '32', '--out', out, '--no-progress'],
      out, { ...process.env, TMPDIR: tmpdir }, () => {}, 2);
    expect(hadTrials).toBe(true);
    // Before: the second SIGINT met the default action and killed the process (code 'SIGINT').
    // (It says "still stopping" when its loop is free to; while it writes the reports the loop is
    // busy and the second signal is only kept from killing it.)
    expect(code, stderr).toBe(130);
    expect(harnessProcesses()).toEqual([]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
    for (const file of ['summary.json', 'report.md', 'report.html']) expect(fs.existsSync(path.join(out, file)), file).toBe(true);
  });

  it('kill -9 of the harness: the reaper stops nginx and the upstream and removes the temp dir', async () => {
    const out = path.join(tmp, 'killed');
    const tmpdir = path.join(tmp, 'tmpdir');
    fs.mkdirSync(tmpdir, { recursive: true });
    const child = spawn(process.execPath, [CLI, 'sweep', '--upstream-timeout', '1s', '--proxy-timeout', '60s', '--trials', '1000', '--lanes', '16', '--out', out, '--no-progress'],
      { env: { ...process.env, TMPDIR: tmpdir }, stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !harnessProcesses().some((line) => line.includes('nginx: master'))) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(harnessProcesses().some((line) => line.includes('nginx: master'))).toBe(true);
    child.kill('SIGKILL');
    // The reaper gives SIGTERM 2 s before SIGKILL; allow for that and a busy machine.
    const gone = Date.now() + 10_000;
    while (Date.now() < gone && (harnessProcesses().length > 0 || fs.readdirSync(tmpdir).length > 0)) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(harnessProcesses()).toEqual([]);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });

  it('toxiproxy: serves the Toxiproxy API until SIGTERM, then exits 143 with nothing left', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'toxiproxy', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (data) => resolve(String(data))));
    expect(JSON.parse(line)).toEqual({ event: 'listening', url: `http://127.0.0.1:${port}`, port });
    const version = await (await fetch(`http://127.0.0.1:${port}/version`)).json();
    expect(version).toEqual({ version: expect.stringContaining('keepalive-lab') });
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)))).toBe(143);
    await expect(fetch(`http://127.0.0.1:${port}/version`)).rejects.toThrow();
  });
});
