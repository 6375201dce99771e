// The deploy gate on user-style setups: the user's nginx config (a template, or a full config
// with --upstream-block) in front of the user's upstream (Python's http.server, or a plain Node
// app), exit 0 safe / 1 unsafe / 2 bad input. The gate's own recommendation, applied, turns the
// failing Node case into a passing one.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateResult } from '../src/gate/gate-result.js';
import type { TrialRecord } from '../src/history/records.js';
import type { ProxyIdleClose } from '../src/gate/proxy-idle-probe.js';
import { gate as gateCall } from '../src/index.js';
import { freePort } from '../src/util/ports.js';
import { acceptCapacity } from '../src/gate/accept-capacity.js';
import { HttpConnection } from '../src/workload/http-connection.js';
import { interruptOnceTrialsAreWritten } from './support/interrupt.js';
import { launchChromium } from './support/chromium.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/gate/', import.meta.url));
const PYTHON = `python3 ${path.join(FIXTURES, 'python-upstream.py')}`;
const NODE_APP = `node ${path.join(FIXTURES, 'node-upstream.mjs')}`;
const KOA_APP = `node ${path.join(FIXTURES, 'koa-app.mjs')}`;
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-gate-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The fixture template with its upstream keepalive_timeout set. */
function template(keepaliveTimeout: string, edit: (text: string) => string = (text) => text): string {
  const file = path.join(tmp, `nginx-${keepaliveTimeout}-${Math.random().toString(36).slice(2, 8)}.conf`);
  fs.writeFileSync(file, edit(fs.readFileSync(path.join(FIXTURES, 'nginx-template.conf'), 'utf8').replaceAll('KEEPALIVE_TIMEOUT', keepaliveTimeout)));
  return file;
}

/** A full config (no placeholders) of the kind a deploy repo holds: a fixed listen, a named upstream block. */
function fullConfig(listenPort: number, keepaliveTimeout: string): string {
  const file = path.join(tmp, `full-${listenPort}.conf`);
  fs.writeFileSync(file, `events {}
http {
    upstream backend {
        server 10.20.30.40:3000 max_fails=3;
        server 10.20.30.41:3000;
        keepalive 16;
        keepalive_timeout ${keepaliveTimeout};
    }
    server {
        listen ${listenPort};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`);
  return file;
}

let runs = 0;
/** The CLI's gate, each run with its own run directory under the suite's temp dir. */
function gate(args: string[]) {
  const out = path.join(tmp, `run-${++runs}`);
  const result = spawnSync(process.execPath, [CLI, 'gate', ...args, '--out', out], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, TMPDIR: tmp } });
  return { ...result, out, json: () => JSON.parse(result.stdout) as GateResult };
}

/** Where Debian's nginx writes its access log when a config names none. */
const DEBIAN_ACCESS_LOG = '/var/log/nginx/access.log';

/**
 * A gate that must decide, run again once if it could not: a CI machine with a quarter of its CPU
 * stolen by the hypervisor left one such run undecided (its reason says why: failures that are
 * not the race, or bursts that disagree), which is the gate being honest about the machine, and a
 * release engineer's next step is the same rerun. The first run's reason is kept for the message.
 */
function decidingGate(args: string[]) {
  const first = gate(args);
  const undecided = first.status === 1 && first.stdout.trim() !== '' && first.json().outcome === 'undecided';
  if (!undecided) return { ...first, earlier: null };
  return { ...gate(args), earlier: first.json().reason };
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** Nothing the gate started may outlive it: no process naming its temp prefix or the marker. */
function leftovers(marker: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n')
    .filter((line) => (line.includes(tmp) || line.includes(marker)) && !line.includes('ps -eo'));
}

describe('gate on a non-Node upstream (Python http.server)', () => {
  it('idle timeout 1 s behind nginx keepalive_timeout 60s: fails (exit 1) with the 502s, the evidence and the fix; JUnit says so', async () => {
    const junit = path.join(tmp, 'unsafe.xml');
    const result = gate(['--nginx-conf', template('60s'), '--upstream-cmd', `IDLE_TIMEOUT=1 ${PYTHON}`, '--junit', junit, '--json']);
    expect(result.status, result.stderr).toBe(1);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'fail', decisive: { boundary: 'upstream' } });
    expect(verdict.upstream.probe!.medianCloseMs).toBeGreaterThan(995);
    expect(verdict.upstream.probe!.medianCloseMs).toBeLessThan(1100);
    expect(verdict.status502).toBeGreaterThan(0);
    expect(verdict.decisionInterval[0]).toBeGreaterThan(0.001);
    expect(verdict.fix!.text).toMatch(/keeps them 60 s: set server\.keepAliveTimeout >= 61 s/);
    expect(fs.readFileSync(junit, 'utf8')).toMatch(/<failure message="[^"]*requests that reused an idle upstream connection at the upstream's idle close failed/);

    // The run directory: every trial in trials.jsonl, the verdict in summary.json, and reports
    // that `report DIR` rebuilds from the history alone.
    expect(verdict.runDir).toBe(result.out);
    const history = fs.readFileSync(path.join(result.out, 'trials.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; trial?: string | null });
    expect(history.filter((record) => record.type === 'trial')).toHaveLength(verdict.trials);
    expect(history.filter((record) => record.type === 'gate-verdict')).toHaveLength(1);
    // The proxy's log lines name their trial (the request carries its id), so explain can join them.
    expect(history.filter((record) => record.type === 'proxy-log' && record.trial).length).toBeGreaterThan(0);
    // The connection tap: every trial names the upstream connection it went out on and whether
    // it reused it; the tally agrees with the records, and the race decided on reused ones.
    const trialRecords = history.filter((record): record is TrialRecord => record.type === 'trial');
    expect(trialRecords.every((record) => typeof record.upstreamReused === 'boolean' && typeof record.upstreamConn === 'number')).toBe(true);
    const reused = trialRecords.filter((record) => record.upstreamReused).length;
    expect(verdict.upstreamConnections).toEqual({ reused, new: trialRecords.length - reused, unseen: 0 });
    expect(verdict.decidingLook!.trials).toBeLessThanOrEqual(reused);
    expect(verdict.raceFailures).toBeGreaterThan(0);
    expect(history.filter((record) => record.type === 'upstream' && (record as { ev?: string }).ev === 'close').length).toBeGreaterThan(0);
    const summary = fs.readFileSync(path.join(result.out, 'summary.json'), 'utf8');
    expect(JSON.parse(summary)).toEqual(verdict);
    const html = fs.readFileSync(path.join(result.out, 'report.html'), 'utf8');
    for (const name of ['summary.json', 'report.md', 'report.html']) fs.rmSync(path.join(result.out, name));
    const rebuilt = cli(['report', result.out]);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain('gate: FAIL (unsafe)');
    expect(fs.readFileSync(path.join(result.out, 'summary.json'), 'utf8')).toBe(summary);
    expect(fs.readFileSync(path.join(result.out, 'report.html'), 'utf8')).toBe(html);
    expect(html).toMatch(/<section class="gate-verdict fail"><h2>FAIL \(unsafe\)<\/h2>/);
    expect(html).toContain('data-chart="Failure rate against the idle gap, at the decisive close"');
    expect(html).toMatch(/<svg[^>]*>/);
    expect(fs.readFileSync(path.join(result.out, 'report.md'), 'utf8')).toMatch(/^# keepalive-lab gate: FAIL \(unsafe\)\n/);
    const explained = cli(['explain', result.out]);
    expect(explained.status, explained.stderr).toBe(0);
    expect(explained.stdout).toMatch(/^trial (c\d+\.)?b\d+\.\d+ \(cell gate, lane \d+\): 502/);
    expect(explained.stdout).toMatch(/proxy +error: (prematurely_closed|reset_by_peer)/);
    // The connection tap's record: the request reused an idle connection the upstream closed under it.
    expect(explained.stdout).toMatch(/connection \d+ closed, as the connection tap saw it \(server/);
    expect(explained.stdout).toMatch(/request passed the tap on connection \d+/);

    // report.html as a person reads it, in a narrow window (Chromium): every evidence line wraps
    // inside the page, none is cut at the box's edge, and each is there whole.
    const browser = await launchChromium();
    try {
      const width = 640;
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(pathToFileURL(path.join(result.out, 'report.html')).href, { waitUntil: 'load' });
      const evidence = await page.locator('dl.evidence').evaluate((list) => {
        const items = [...list.querySelectorAll('dd')];
        return {
          right: list.getBoundingClientRect().right,
          cut: items.filter((item) => item.scrollWidth > item.clientWidth + 1 || item.getBoundingClientRect().right > list.getBoundingClientRect().right).length,
          wrapped: items.filter((item) => item.getClientRects().length > 0 && item.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(item).lineHeight || '16')).length,
          labels: [...list.querySelectorAll('dt')].map((label) => label.textContent),
          text: list.textContent ?? '',
        };
      });
      expect(evidence.cut).toBe(0);
      expect(evidence.right).toBeLessThanOrEqual(width);
      expect(evidence.wrapped).toBeGreaterThan(0);
      expect(evidence.labels).toEqual(expect.arrayContaining(['upstream', 'proxy', 'measured', 'decisive', 'evidence', 'fix']));
      expect(evidence.text).toContain(verdict.upstream.label);
      expect(evidence.text).toContain(verdict.fix!.text);
    } finally {
      await browser.close();
    }
  });

  it('the same through a fault (--fault latency:upstream:5ms, the embedded Toxiproxy between them): still fails, the fault on record', () => {
    const result = gate(['--nginx-conf', template('60s'), '--upstream-cmd', `IDLE_TIMEOUT=1 ${PYTHON}`, '--fault', 'latency:upstream:5ms', '--json']);
    expect(result.status, result.stderr).toBe(1);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'fail', faults: ['latency:upstream:5ms'], decisive: { boundary: 'upstream' } });
    expect(verdict.failures).toBeGreaterThan(0);
  });

  it('idle timeout 3 s behind keepalive_timeout 1s: passes on bursts at the proxy\'s own close (as a library call, the README\'s vitest example)', async () => {
    const verdict = await gateCall({ nginxConf: template('1s'), upstreamCmd: `IDLE_TIMEOUT=3 ${PYTHON}`, maxFailureRate: 0.01 });
    expect(verdict.outcome, verdict.reason).toBe('pass');
    expect(verdict).toMatchObject({ outcome: 'pass', failures: 0, decisive: { boundary: 'proxy' } });
    // Aimed at the close nginx was measured to make (keepalive_timeout 1s: ~1001 ms).
    expect(verdict.decisive.atMs).toBe((verdict.proxy.keepaliveTimeoutMeasured as ProxyIdleClose).medianMs);
    expect(verdict.decisive.atMs).toBeGreaterThanOrEqual(1000);
    expect(verdict.decisive.atMs).toBeLessThan(1010);
    expect(verdict.trials).toBeGreaterThanOrEqual(verdict.trialsNeededToPass);
    expect(verdict.decisionInterval[1]).toBeLessThan(0.01);
  });
});

describe('the gate\'s bursts fit the upstream\'s accept queue', () => {
  async function capacityOf(backlog: string) {
    const port = await freePort();
    const server = spawn('python3', [path.join(FIXTURES, 'python-upstream.py')], { env: { ...process.env, PORT: String(port), BACKLOG: backlog }, stdio: 'ignore' });
    try {
      const endpoint = { host: '127.0.0.1', port };
      for (let tries = 0; ; tries++) {
        const probe = new HttpConnection(endpoint);
        try {
          await probe.connect();
          break;
        } catch {
          if (tries > 100) throw new Error('python upstream did not listen');
          await new Promise((resolve) => setTimeout(resolve, 50));
        } finally {
          probe.close();
        }
      }
      return await acceptCapacity(endpoint, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, 32);
    } finally {
      server.kill();
    }
  }

  it('Python\'s standard backlog (5) holds 32 new connections up (SYN retransmits): bursts shrink; a backlog of 511 takes all 32', async () => {
    const small = await capacityOf('5');
    expect(small.heldUpAt).toBe(32);
    expect(small.heldUpMs).toBeGreaterThanOrEqual(500);
    expect(small.burst).toBeLessThan(32);
    const large = await capacityOf('511');
    expect(large).toEqual({ burst: 32, heldUpAt: null, heldUpMs: null });
  });
});

describe('gate on a Node upstream, full config with --upstream-block', () => {
  // POST: nginx's default retry would hide the race from a GET (the gate notes such masking).
  const post = ['--method', 'POST', '--body', '{"order":1}'];
  it('keepAliveTimeout 500 behind 2s fails for a POST; the recommended settings, applied, pass', async () => {
    const conf = fullConfig(await freePort(), '2s');
    const unsafe = decidingGate(['--nginx-conf', conf, '--upstream-block', 'backend', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, ...post, '--json']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    const failing = unsafe.json();
    // A full config with a fixed listen port runs once: its copies could not share the port.
    expect(failing, `${failing.reason}${unsafe.earlier ? ` (the run before: ${unsafe.earlier})` : ''}`).toMatchObject({ outcome: 'fail', decisive: { boundary: 'upstream' }, proxy: { upstreamBlock: 'backend', keepaliveTimeoutMs: 2000, keepaliveConnections: 16, copies: 1 } });
    // The config's keepalive_timeout, verified by measurement: nginx let its idle connections go
    // 2 s after their last use (its timer: within a few ms). The probe's burst of 16 requests
    // opens up to 16: a request answered before another is written lets nginx reuse its
    // connection for it (a CI run counted 15 closes).
    const measured = failing.proxy.keepaliveTimeoutMeasured as ProxyIdleClose;
    expect(measured.samples).toBeGreaterThanOrEqual(12);
    expect(measured.samples).toBeLessThanOrEqual(16);
    expect(measured.medianMs).toBeGreaterThanOrEqual(2000);
    expect(measured.medianMs).toBeLessThan(2020);
    // Stock Node closes a second after its keepAliveTimeout.
    expect(failing.upstream.probe!.medianCloseMs).toBeGreaterThan(1400);
    expect(failing.fix).toMatchObject({ nodeKeepAliveTimeoutMs: 3000, nodeHeadersTimeoutMs: 4000 });

    // Apply it. The proxy's 2 s close then decides; judged by the measured order (bursts at a
    // 2 s idle gap would need ~25 min for a 0.1% bound: --max-idle-wait keeps this suite short).
    const { nodeKeepAliveTimeoutMs, nodeHeadersTimeoutMs } = failing.fix!;
    const fixed = gate(['--nginx-conf', conf, '--upstream-block', 'backend', '--upstream-cmd',
      `KEEP_ALIVE_TIMEOUT=${nodeKeepAliveTimeoutMs} HEADERS_TIMEOUT=${nodeHeadersTimeoutMs} ${NODE_APP}`, ...post, '--max-idle-wait', '1s', '--json']);
    expect(fixed.status, fixed.stderr).toBe(0);
    const passing = fixed.json();
    expect(passing).toMatchObject({ outcome: 'pass', decisive: { boundary: 'order' }, fix: null });
    // The probe waits past the proxy's 2 s by the 1 s margin and 0.5 s: stock Node closes at ~4 s.
    expect(passing.upstream.probe).toBeNull();
    expect(passing.reason).toContain('it kept idle connections open past 3500 ms');
  }, 360_000);
});

describe('gate on a third-party framework app (Koa 3, at its defaults) behind nginx 60 s', () => {
  it('fails (GET: the race nginx retried, FAIL (masked)), and passes once the fix\'s server timeouts are set', () => {
    // The rendered config names no access log, so nginx would write its compiled-in one
    // (Debian's /var/log/nginx/access.log) outside the run: the gate turns it off.
    const sizeOfDefaultLog = () => fs.statSync(DEBIAN_ACCESS_LOG, { throwIfNoEntry: false })?.size ?? null;
    const defaultLogBefore = sizeOfDefaultLog();
    const unsafe = gate(['--proxy-timeout', '60s', '--upstream-cmd', KOA_APP, '--json']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    expect(sizeOfDefaultLog(), DEBIAN_ACCESS_LOG).toBe(defaultLogBefore);
    const failing = unsafe.json();
    // Koa leaves Node's http server at its defaults: keepAliveTimeout 5 s, closed at ~6 s here
    // (docs/race.md#nodejs).
    expect(failing.upstream.probe!.medianCloseMs).toBeGreaterThan(4990);
    expect(failing.upstream.probe!.medianCloseMs).toBeLessThan(6100);
    expect(failing).toMatchObject({ outcome: 'fail', failureKind: 'masked', decisive: { boundary: 'upstream' } });
    expect(failing.maskedAttempts).toBeGreaterThan(0);
    expect(failing.fix).toMatchObject({ nodeKeepAliveTimeoutMs: 61_000, nodeHeadersTimeoutMs: 62_000 });

    // As the fix says: server.keepAliveTimeout 61 s and headersTimeout 62 s. The proxy's 60 s
    // then comes first; judged by the measured order (the probe waits past 60 s + the 1 s margin).
    const { nodeKeepAliveTimeoutMs, nodeHeadersTimeoutMs } = failing.fix!;
    const fixed = gate(['--proxy-timeout', '60s', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=${nodeKeepAliveTimeoutMs} HEADERS_TIMEOUT=${nodeHeadersTimeoutMs} ${KOA_APP}`, '--json']);
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(fixed.json()).toMatchObject({ outcome: 'pass', decisive: { boundary: 'order' }, fix: null });
  });
});

describe('gate: a race the proxy hides by retrying (GET, nginx\'s default proxy_next_upstream)', () => {
  const get = ['--proxy-timeout', '60s', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, '--json'];
  it('is a FAIL (masked) as soon as the proxy logs a retried race, though the client saw no failure', () => {
    const result = gate(get);
    expect(result.status, result.stderr).toBe(1);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'fail', failureKind: 'masked', decisive: { boundary: 'upstream' } });
    // A rendered config: copies of it fire side by side, 80 trials/s at a 1.5 s idle needs 4.
    expect(verdict.proxy.copies).toBe(4);
    expect(leftovers('node-upstream.mjs')).toEqual([]);
    expect(verdict.maskedAttempts).toBeGreaterThan(0);
    expect(verdict.reason).toMatch(/raced and (was|were) retried by the proxy .*a POST, or a proxy that does not retry, would have failed; --allow-masked \(allowMasked in a call\) accepts the retries/);
    // Decided on the evidence at once, not after thousands of trials.
    expect(verdict.trials).toBeLessThan(1000);
  });

  it('with --allow-masked it is judged on what the client saw, and the pass carries the warning', () => {
    const result = gate([...get, '--allow-masked', '--max-failure-rate', '0.01']);
    expect(result.status, result.stderr).toBe(0);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'pass', failures: 0, failureKind: null });
    expect(verdict.maskedAttempts).toBeGreaterThan(0);
    expect(verdict.reason).toMatch(/but \d+ upstream attempts raced and were retried by the proxy \(accepted with --allow-masked\)/);
  });
});

describe('gate: failures that are not the race are shown apart and do not decide', () => {
  it('an app answering its own 503 to one request in 40, safe on keep-alive (3 s behind nginx 1 s): passes, the 503s named and not counted', () => {
    const result = gate(['--nginx-conf', template('1s'), '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=3000 FAIL_EVERY=40 ${NODE_APP}`, '--max-failure-rate', '0.01', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'pass', raceFailures: 0, decisive: { boundary: 'proxy' } });
    // 2.5% of the requests failed, above the 1% limit: before, that was a FAIL (unsafe).
    expect(verdict.failures).toBeGreaterThan(0);
    expect(verdict.otherFailures).toEqual({ 'the application\'s (or the proxy\'s) own 503': verdict.failures });
    expect(verdict.reason).toMatch(/not the race, and not counted: \d+ the application's \(or the proxy's\) own 503/);
  });

  it('an app failing one request in 5: the run stops undecided, saying it cannot tell, and does not blame the race', () => {
    const result = gate(['--nginx-conf', template('1s'), '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=3000 FAIL_EVERY=5 ${NODE_APP}`, '--max-failure-rate', '0.01', '--json']);
    expect(result.status, result.stderr).toBe(1);
    const verdict = result.json();
    expect(verdict).toMatchObject({ outcome: 'undecided', raceFailures: 0, failureKind: 'undecided' });
    expect(verdict.reason).toMatch(/failed for reasons that are not the keep-alive race \(\d+ the application's \(or the proxy's\) own 503\): the run cannot tell/);
  });
});

/** A full HAProxy config as a deploy repo holds it: daemon, syslog, chroot, stats socket, public binds, two servers. */
function fullHaproxyConfig(listenPort: number, keepAlive: string, edit: (text: string) => string = (text) => text): string {
  const file = path.join(tmp, `haproxy-${listenPort}-${Math.random().toString(36).slice(2, 8)}.cfg`);
  fs.writeFileSync(file, edit(`global
    daemon
    log /dev/log local0
    chroot /var/lib/haproxy
    stats socket /run/haproxy/admin.sock mode 660 level admin

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    timeout http-keep-alive ${keepAlive}

frontend web
    bind *:${listenPort}
    bind :::${listenPort} v4v6
    default_backend app

backend app
    server app1 10.0.0.5:3000 check
    server app2 10.0.0.6:3000 check
`));
  return file;
}

describe('gate with --proxy haproxy', () => {
  const post = ['--method', 'POST', '--body', '{"order":1}'];
  it('a full HAProxy config with --backend: keepAliveTimeout 500 behind 2s fails with closed connections, not 502s; with the fix applied the order is not trusted, as HAProxy keeps idle server connections past its timeout', async () => {
    const conf = fullHaproxyConfig(await freePort(), '2s');
    // HAProxy's failures come in bursts (1.4% of 1,600 here, 83 s to decide once, 173 s in
    // CI): the time budget caps it, and an undecided gate fails too; the race must be seen.
    const unsafe = gate(['--proxy', 'haproxy', '--haproxy-conf', conf, '--backend', 'app', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, ...post, '--max-seconds', '45', '--json']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    const failing = unsafe.json();
    expect(failing.outcome).not.toBe('pass');
    expect(failing.failures).toBeGreaterThan(0);
    expect(failing).toMatchObject({ decisive: { boundary: 'upstream' }, proxy: { flavour: 'haproxy', upstreamBlock: 'app', keepaliveTimeoutMs: 2000 } });
    // Measured, not read: at timeout http-keep-alive (2 s) HAProxy ends the idle client
    // sessions, but keeps their server connections in its idle pool: none closed within 5 s.
    expect(failing.proxy.keepaliveTimeoutMeasured).toEqual({ keptOpenMs: 5000, connections: 32 });
    // HAProxy answers a raced request with a closed connection, never a 502.
    expect(failing.status502).toBe(0);
    expect((failing.errorClasses.eof ?? 0) + (failing.errorClasses.reset ?? 0)).toBe(failing.failures);
    expect(failing.fix!.text).toContain('add "retries 3" and "retry-on all-retryable-errors" for backend app');

    // Applied, the upstream outlasts HAProxy's 2 s timeout; but HAProxy keeps the server
    // connections past it (measured above), so the order proves nothing: undecided (exit 1).
    const { nodeKeepAliveTimeoutMs, nodeHeadersTimeoutMs } = failing.fix!;
    const applied = gate(['--proxy', 'haproxy', '--haproxy-conf', conf, '--backend', 'app', '--upstream-cmd',
      `KEEP_ALIVE_TIMEOUT=${nodeKeepAliveTimeoutMs} HEADERS_TIMEOUT=${nodeHeadersTimeoutMs} ${NODE_APP}`, ...post, '--json']);
    expect(applied.status, applied.stderr).toBe(1);
    const undecided = applied.json();
    expect(undecided).toMatchObject({ outcome: 'undecided', decisive: { boundary: 'order' }, trials: 0 });
    expect(undecided.reason).toMatch(/^HAProxy's timeout http-keep-alive \(2000 ms\) ends idle client sessions, but it closed none of 32 idle server connections within 5000 ms/);
  });

  it('a rendered HAProxy (--proxy-timeout 60s) in front of Python idle 1 s fails, with closed connections', () => {
    // Failures here come at ~1.5% but in bursts: a run with few early on needs many looks, so
    // the time budget caps it (an undecided gate is a fail too; the race must have been seen).
    const unsafe = gate(['--proxy', 'haproxy', '--proxy-timeout', '60s', '--upstream-cmd', `IDLE_TIMEOUT=1 ${PYTHON}`, ...post, '--max-seconds', '45', '--json']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    const failing = unsafe.json();
    expect(failing.outcome).not.toBe('pass');
    expect(failing).toMatchObject({ status502: 0, proxy: { flavour: 'haproxy', keepaliveTimeoutMs: 60_000, retrySetting: null } });
    expect(failing.failures).toBeGreaterThan(0);
    expect((failing.errorClasses.eof ?? 0) + (failing.errorClasses.reset ?? 0)).toBe(failing.failures);
    // (retry-on hiding the race is the HAProxy suite's claim; a gate pass on it at 1% needs
    // hundreds of 1 s bursts, too long for CI.)
  });
});

/** A full Caddyfile of the kind a deploy repo holds: a fixed port, global options, a named upstream. */
function fullCaddyfile(listenPort: number, keepAlive: string, edit: (text: string) => string = (text) => text): string {
  const file = path.join(tmp, `Caddyfile-${listenPort}-${Math.random().toString(36).slice(2, 8)}`);
  fs.writeFileSync(file, edit(`{
\temail ops@example.com
}

:${listenPort} {
\tbind 0.0.0.0
\tencode gzip
\treverse_proxy app:3000 {
\t\ttransport http {
\t\t\tkeepalive ${keepAlive}
\t\t\tkeepalive_idle_conns_per_host 16
\t\t}
\t}
}
`));
  return file;
}

describe('gate with --proxy caddy', () => {
  const post = ['--method', 'POST', '--body', '{"order":1}'];
  it('a full Caddyfile with --caddy-upstream: keepAliveTimeout 500 behind keepalive 2s fails with 502s (POST); with the fix applied the proxy closes first', async () => {
    const conf = fullCaddyfile(await freePort(), '2s');
    const unsafe = gate(['--proxy', 'caddy', '--caddyfile', conf, '--caddy-upstream', 'app:3000', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, ...post, '--json']);
    expect(unsafe.status, unsafe.stderr).toBe(1);
    const failing = unsafe.json();
    expect(failing).toMatchObject({ outcome: 'fail', failureKind: 'client', decisive: { boundary: 'upstream' },
      proxy: { flavour: 'caddy', upstreamBlock: 'app:3000', keepaliveTimeoutMs: 2000, keepaliveTimeoutFromConfig: true, keepaliveConnections: 16 } });
    // Caddy answers a raced POST with a 502, and its error log names the round trip's error.
    // (Measured: 44-46 failures a run, every one a 502, and the tap tied all of them to the race
    // in 3 runs of 3; once in a suite run it tied 43 of 44, the other counted apart, as it should.)
    expect(failing.status502).toBe(failing.failures);
    expect(failing.raceFailures).toBeGreaterThan(0);
    expect((failing.proxyLog.prematurely_closed ?? 0) + (failing.proxyLog.reset_by_peer ?? 0) + (failing.proxyLog.broken_pipe ?? 0)).toBeGreaterThan(0);
    expect(failing.fix!.text).toContain('or lower the transport\'s keepalive of the reverse_proxy to app:3000 to');

    // Applied: the upstream outlasts Caddy's 2 s by the margin; judged by the order (not fired:
    // the proxy's close is longer than --max-idle-wait).
    const { nodeKeepAliveTimeoutMs, nodeHeadersTimeoutMs } = failing.fix!;
    const applied = gate(['--proxy', 'caddy', '--caddyfile', conf, '--caddy-upstream', 'app:3000', '--upstream-cmd',
      `KEEP_ALIVE_TIMEOUT=${nodeKeepAliveTimeoutMs} HEADERS_TIMEOUT=${nodeHeadersTimeoutMs} ${NODE_APP}`, ...post, '--max-idle-wait', '1s', '--json']);
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.json()).toMatchObject({ outcome: 'pass', decisive: { boundary: 'order' } });
  });

  it('a rendered Caddy (--proxy-timeout 60s) in front of keepAliveTimeout 500: a GET is FAIL (masked): Go\'s transport resent it, the tap saw the raced attempt, Caddy logged nothing', () => {
    const masked = gate(['--proxy', 'caddy', '--proxy-timeout', '60s', '--upstream-cmd', `KEEP_ALIVE_TIMEOUT=500 ${NODE_APP}`, '--json']);
    expect(masked.status, masked.stderr).toBe(1);
    const result = masked.json();
    expect(result).toMatchObject({ outcome: 'fail', failureKind: 'masked', failures: 0, proxy: { flavour: 'caddy', keepaliveTimeoutMs: 60_000 } });
    expect(result.maskedAttempts).toBeGreaterThan(0);
    expect(result.proxyLog).toEqual({});
  });
});

describe('gate: Ctrl-C', () => {
  it('stops everything it started and writes the reports from the trials fired so far (no verdict)', async () => {
    const out = path.join(tmp, 'interrupted');
    // A safe pairing at a 0.01% limit: it fires for minutes unless stopped.
    const { code, stderr, hadTrials } = await interruptOnceTrialsAreWritten(CLI,
      ['gate', '--nginx-conf', template('1s'), '--upstream-cmd', `IDLE_TIMEOUT=3 ${PYTHON}`, '--max-failure-rate', '0.0001', '--out', out], out, { ...process.env, TMPDIR: tmp });
    expect(hadTrials).toBe(true);
    const historyPath = path.join(out, 'trials.jsonl');
    expect(code, stderr).toBe(130);
    expect(leftovers('python-upstream')).toEqual([]);
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('keepalive-lab-'))).toEqual([]);
    const trials = fs.readFileSync(historyPath, 'utf8').split('\n').filter((line) => line.includes('"type":"trial"'));
    expect(trials.length).toBeGreaterThan(0);
    // The teardown does not leak into the measurement: a safe pairing, every trial answered.
    expect(trials.filter((line) => !line.includes('"errorClass":"ok"'))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual({ outcome: null, reason: 'the run ended before a verdict', trials: trials.length });
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/^# keepalive-lab gate: no verdict\n/);
  });
});

describe('gate: bad input is one line, exit 2, nothing left running', () => {
  const cases: [string, () => Promise<string[]>, RegExp, string][] = [
    ['an nginx syntax error, with nginx\'s message and the user\'s line',
      async () => { const file = template('60s', (text) => text.replace('keepalive 32;', 'keepalive_conections 32;')); return ['--nginx-conf', file, '--upstream-cmd', `IDLE_TIMEOUT=1 ${PYTHON}`]; },
      /^keepalive-lab: --nginx-conf .*\.conf: nginx -t: \[emerg\] unknown directive "keepalive_conections" in .*nginx-60s-\w+\.conf:16$/, 'python-upstream'],
    ['a missing upstream block',
      async () => ['--nginx-conf', fullConfig(await freePort(), '2s'), '--upstream-block', 'api', '--upstream-cmd', `${NODE_APP}`],
      /^keepalive-lab: --upstream-block api: no upstream block of that name in .* \(it has: backend\): name the block your proxy_pass uses$/, 'node-upstream.mjs'],
    ['an HAProxy config error, with haproxy\'s message and the user\'s line',
      async () => ['--proxy', 'haproxy', '--haproxy-conf', fullHaproxyConfig(await freePort(), '2s', (text) => text.replace('    option httplog\n', '    option httplog\n    timout server 1s\n')), '--backend', 'app', '--upstream-cmd', `${NODE_APP}`],
      /^keepalive-lab: --haproxy-conf .*\.cfg: haproxy -c: \[ALERT\] .*parsing \[.*haproxy-\d+-\w+\.cfg:11\] : unknown keyword 'timout' in 'defaults' section/, 'node-upstream.mjs'],
    ['a missing HAProxy backend',
      async () => ['--proxy', 'haproxy', '--haproxy-conf', fullHaproxyConfig(await freePort(), '2s'), '--backend', 'api', '--upstream-cmd', `${NODE_APP}`],
      /^keepalive-lab: --backend api: no backend or listen section of that name in .* \(it has: app\): name the backend your frontend uses$/, 'node-upstream.mjs'],
    ['a Caddyfile error, with Caddy\'s message and the user\'s line',
      async () => ['--proxy', 'caddy', '--caddyfile', fullCaddyfile(await freePort(), '2s', (text) => text.replace('\tencode gzip', '\tencod gzip')), '--caddy-upstream', 'app:3000', '--upstream-cmd', `${NODE_APP}`],
      /^keepalive-lab: --caddyfile .*Caddyfile-\d+-\w+: caddy adapt --validate: .*Caddyfile-\d+-\w+:7: unrecognized directive: encod/, 'node-upstream.mjs'],
    ['an upstream command that exits',
      async () => ['--proxy-timeout', '60s', '--upstream-cmd', 'echo "listen EADDRINUSE" >&2; exit 3'],
      /^keepalive-lab: --upstream-cmd ".*" exited \(3\) before listening on port \d+; it said: listen EADDRINUSE$/, 'EADDRINUSE'],
    ['an upstream command that never listens',
      async () => ['--proxy-timeout', '60s', '--upstream-cmd', 'sleep 29.917'],
      /^keepalive-lab: --upstream-cmd "sleep 29.917" did not listen on 127\.0\.0\.1:\d+ within 15 s: it must listen on env PORT or the \{port\} placeholder/, 'sleep 29.917'],
    ['a listen port in use',
      async () => ['--nginx-conf', fullConfig(busyPort!, '2s'), '--upstream-block', 'backend', '--upstream-cmd', `${NODE_APP}`],
      /^keepalive-lab: --nginx-conf .*full-\d+\.conf:10: port \d+ is in use: free it, or make the listen a \{\{listen\}\} placeholder$/, 'node-upstream.mjs'],
  ];
  let busy: net.Server;
  let busyPort: number | undefined;
  beforeAll(async () => {
    busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  for (const [what, args, message, marker] of cases) {
    it(what, async () => {
      const result = gate(await args());
      expect(result.status, result.stderr).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(leftovers(marker)).toEqual([]);
      expect(fs.readdirSync(tmp).filter((name) => name.startsWith('keepalive-lab-'))).toEqual([]);
      expect(fs.existsSync(result.out), 'no run directory for bad input').toBe(false);
    });
  }
});
