// Bad input over every command, as a new user would give it: each case is one line naming the
// problem and its fix, exit 2, no run directory, and nothing left behind (no process, no temp
// dir). Each case runs the CLI in an empty working directory with its own TMPDIR and a marker in
// its environment, which every process it starts inherits: after it, nothing may carry the
// marker, the TMPDIR must be empty and the working directory must hold only what the case put
// there. A few cases are valid input that fails at run time: exit 1, one line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Case {
  /** The command line after `keepalive-lab`; {dir} is the case's working directory. */
  args: string[];
  /** What the one line must say (the problem, and where it helps, the fix). */
  says: RegExp;
  /** Files the case needs, relative to its working directory. */
  files?: Record<string, string>;
  /** FIFOs the case needs there (a reader that opens one waits for a writer for ever). */
  fifos?: string[];
  /** Exit statuses allowed (default 2). */
  exit?: number[];
  /** A shell line instead of argv (pipes); {cli} is the command. */
  shell?: string;
}

// Servers the cases point at: one that speaks something else than HTTP (a process of its own:
// the cases block this one in spawnSync), and a port that refuses.
let notHttp: ChildProcess;
let notHttpPort = 0;
// An HTTP server that never closes an idle connection: a probe of it ends at its --max-wait.
let keepsOpen: ChildProcess;
let keepsOpenPort = 0;
const KEEPS_OPEN_SERVER = `const server = require('http').createServer((q, s) => s.end('ok'));
server.keepAliveTimeout = 0;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
let refusedPort = 0;
const NOT_HTTP_SERVER = `const server = require('net').createServer((socket) => { socket.on('error', () => {});
  socket.once('data', () => socket.write('SSH-2.0-OpenSSH_9.2\\r\\n')); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
beforeAll(async () => {
  notHttp = spawn(process.execPath, ['-e', NOT_HTTP_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  notHttpPort = await new Promise<number>((resolve) => notHttp.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))));
  keepsOpen = spawn(process.execPath, ['-e', KEEPS_OPEN_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  keepsOpenPort = await new Promise<number>((resolve) => keepsOpen.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))));
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
});
afterAll(() => {
  notHttp.kill();
  keepsOpen.kill();
});

const NGINX_TEMPLATE = 'events {}\nhttp {\n  upstream app { server {{upstream}}; keepalive 8; }\n  server { listen {{listen}}; location / { proxy_pass http://app; } }\n}\n';
const RUN_HISTORY = '{"type":"run","startedAt":"2026-01-01T00:00:00.000Z","monotonicAtStart":0,"runtime":"local","versions":{},"settings":{}}\n';
/** A trial record with every field a trial holds. */
const TRIAL = { type: 'trial', cell: 'c0', id: 'c0-1', lane: 0, method: 'GET', boundary: 'upstream', intendedOffsetMs: 0, gapMs: 100, gapOffsetMs: 0, gapClock: 'upstream',
  receiptGapMs: 100, status: 200, errorClass: 'ok', latencyMs: 1, sentAt: 0, endedAt: 1 };
const UPSTREAM = ['--upstream-cmd', 'node -e "require(\'http\').createServer((q,s)=>s.end()).listen(process.env.PORT,\'127.0.0.1\')"'];

const CASES: Record<string, Case> = {
  // The program itself.
  'an unknown command': { args: ['bogus'], says: /unknown command 'bogus'/ },
  'an unknown option': { args: ['sweep', '--bogus'], says: /unknown option '--bogus'/ },
  'an option without its value': { args: ['sweep', '--proxy-timeout'], says: /option '--proxy-timeout <list>' argument missing/ },

  // sweep
  'sweep: a proxy timeout nginx cannot hold (0.5ms)': { args: ['sweep', '--proxy-timeout', '0.5ms'], says: /--proxy-timeout: proxies take whole milliseconds/ },
  'sweep: a timeout that is no duration': { args: ['sweep', '--proxy-timeout', 'soon'], says: /--proxy-timeout.*"soon" is not a duration/ },
  'sweep: a negative upstream timeout': { args: ['sweep', '--upstream-timeout=-5ms'], says: /--upstream-timeout/ },
  'sweep: rst closes with stock Node': { args: ['sweep', '--close-style', 'rst', '--upstream-close', 'stock'], says: /--close-style: rst closes need --upstream-close exact/ },
  'sweep: an unknown close style': { args: ['sweep', '--close-style', 'sideways'], says: /--close-style/ },
  'sweep: an unknown close mode': { args: ['sweep', '--upstream-close', 'sometimes'], says: /--upstream-close/ },
  'sweep: a shard past N': { args: ['sweep', '--shard', '5/4'], says: /--shard: "5\/4": I must be from 1 to 4/ },
  'sweep: auto/N outside an Indexed Job': { args: ['sweep', '--shard', 'auto/4'], says: /--shard: auto\/4 reads JOB_COMPLETION_INDEX .* not set: set it, or give I\/4/ },
  'sweep: a reference cell without shards': { args: ['sweep', '--reference-cell', 'P60000-K100-exact-POST-default'], says: /--reference-cell: .*add --shard I\/N/ },
  'sweep: a reference cell not in the matrix': { args: ['sweep', '--shard', '1/2', '--reference-cell', 'P1-K2'], says: /--reference-cell: "P1-K2" is not a cell of this matrix: give one of/ },
  'merge: no --out': { args: ['merge', 'shard-1'], says: /merge: give --out DIR/ },
  'merge: a directory with no run': { args: ['merge', 'nowhere', '--out', 'merged'], says: /merge: nowhere has no trials.jsonl: give the --out directory of each shard/ },
  'sweep: a traffic that is no rate': { args: ['sweep', '--traffic', 'busy'], says: /--traffic: "busy" is not a rate: give a rate such as 50\/s/ },
  'sweep: a traffic pool without a traffic': { args: ['sweep', '--traffic-pool', '8'], says: /--traffic-pool: the pool of the production traffic: add --traffic RATE/ },
  'sweep: an unknown pin layout': { args: ['sweep', '--pin', 'sideways'], says: /--pin: not a layout: use split or shared/ },
  'sweep: pinning on the containers runtime': { args: ['sweep', '--pin', 'split', '--runtime', 'containers'], says: /--pin: pinning runs on the local runtime: add --runtime local/ },
  'gate: a traffic that is no rate': { args: ['gate', '--proxy-timeout', '60s', ...UPSTREAM, '--traffic', '5/week'], says: /--traffic: "5\/week" is not a rate/ },
  'soak: a rate that is no rate': { args: ['soak', '--rate', '30,fast'], says: /--rate: "fast" is not a rate/ },
  'soak: a window from a directory with no run': { args: ['soak', '--window-from', 'nowhere'], says: /--window-from nowhere: no trials.jsonl there: give the --out directory of a sweep of the same pairings/ },
  'soak: a window from a sweep of other pairings': { args: ['soak', '--window-from', 'run'], says: /--window-from run: the sweep has no cell P60000-K100-exact-GET-default: sweep the soak's pairings/,
    files: { 'run/trials.jsonl': `${RUN_HISTORY}${JSON.stringify(TRIAL)}\n` } },
  'predict: no rate': { args: ['predict', 'run'], says: /predict: give --rate, the traffic at the proxy, e.g. --rate 50\/s/ },
  'predict: a profile short of a day': { args: ['predict', 'run', '--rate', '20/s:8h'], says: /--rate: the profile's hours add up to 8, not 24: give the whole day/ },
  'predict: a directory with no run': { args: ['predict', 'nowhere', '--rate', '50/s'], says: /nowhere has no trials.jsonl: give the --out directory of a sweep or a gate/ },
  'predict: a run with no aimed trial': { args: ['predict', 'run', '--rate', '50/s'], says: /run has no aimed trials: predict reads a sweep's or a gate's run directory/, files: { 'run/trials.jsonl': RUN_HISTORY } },
  'predict: a cell not in the run': { args: ['predict', 'run', '--rate', '50/s', '--cell', 'P1-K2'], says: /--cell P1-K2: no such cell in run: give one of c0/,
    files: { 'run/trials.jsonl': `${RUN_HISTORY}${JSON.stringify({ type: 'cell', id: 'c0', proxyTimeoutMs: 60000, upstreamTimeoutMs: 100, upstreamClose: 'exact', closeStyle: 'fin', method: 'GET', retry: 'off', faults: [], path: 'direct',
      trialPrefix: 'c0', effectiveCloseMs: 100, probe: { samples: 1, medianCloseMs: 100, p5CloseMs: 100, p95CloseMs: 100, closedBy: {}, advertisedKeepAlive: null }, boundaries: [{ kind: 'upstream', atMs: 100 }], lanes: 1 })}\n${JSON.stringify(TRIAL)}\n` } },
  'predict: a pool of none': { args: ['predict', 'run', '--rate', '50/s', '--pool', '0'], says: /--pool: "0" must be a positive integer/ },
  'sweep: a capture limit under 2 MB': { args: ['sweep', '--capture', '--capture-limit', '1'], says: /--capture-limit: at least 2 \(MB\)/ },
  'soak: a capture limit that is no whole number': { args: ['soak', '--capture', '--capture-limit', '2.5'], says: /--capture-limit: give whole megabytes/ },
  'explain --pcap on a run without a capture': { args: ['explain', 'run', '--trial', 'c0-1', '--pcap', 'out.pcap'], says: /--pcap: this run captured no packets \(run it with --capture\)/,
    files: { 'run/trials.jsonl': `${RUN_HISTORY}${JSON.stringify({ ...TRIAL, errorClass: '502', status: 502 })}\n` } },
  'sweep: an nginx binary that is not nginx': { args: ['sweep', '--nginx-bin', '/bin/false'], says: /\/bin\/false is not nginx: "\/bin\/false -v" printed nothing and exited 1: name nginx with --nginx-bin/ },
  'sweep: an nginx binary that does not exist': { args: ['sweep', '--nginx-bin', '/nonexistent/nginx'], says: /nginx binary "\/nonexistent\/nginx" not found: install it .* or name the binary with --nginx-bin/ },
  'sweep: a toxiproxy binary that does not exist': { args: ['sweep', '--fault', 'latency:upstream:10ms', '--toxiproxy-bin', '/nonexistent/toxiproxy-server'], says: /--toxiproxy-bin \/nonexistent\/toxiproxy-server: no such executable/ },
  'sweep: a haproxy binary that does not exist': { args: ['sweep', '--proxy', 'haproxy', '--haproxy-bin', '/nonexistent/haproxy'], says: /haproxy binary "\/nonexistent\/haproxy" not found: install it .* or name the binary with --haproxy-bin/ },
  'sweep: a negative spin window': { args: ['sweep', '--spin-ms=-5'], says: /--spin-ms: "-5" must be from 0/ },
  'sweep: a spin window that is no number': { args: ['sweep', '--spin-ms', 'abc'], says: /--spin-ms/ },
  'sweep: zero trials': { args: ['sweep', '--trials', '0'], says: /--trials/ },
  'sweep: a fraction of a trial': { args: ['sweep', '--trials', '1.5'], says: /--trials/ },
  'sweep: zero lanes': { args: ['sweep', '--lanes', '0'], says: /--lanes/ },
  'sweep: an unknown method': { args: ['sweep', '--methods', 'BREW'], says: /--methods/ },
  'sweep: an unknown retry policy': { args: ['sweep', '--retry', 'sometimes'], says: /--retry/ },
  'sweep: an unknown proxy': { args: ['sweep', '--proxy', 'envoy'], says: /--proxy/ },
  'sweep: an unknown runtime': { args: ['sweep', '--runtime', 'cloud'], says: /--runtime/ },
  'sweep: an unknown profile': { args: ['sweep', '--profile', 'nope'], says: /--profile/ },
  'sweep: offsets that are not durations': { args: ['sweep', '--offsets', 'abc'], says: /--offsets/ },
  'sweep: an unknown fault': { args: ['sweep', '--fault', 'lag:upstream:1ms'], says: /unknown type "lag"/ },
  'sweep: a fault past what a timer holds': { args: ['sweep', '--fault', 'latency:upstream:999999999999ms'], says: /at most 2147483647/ },
  'sweep: bad fault sets': { args: ['sweep', '--faults', 'latency:sideways:1ms'], says: /stream must be upstream or downstream/ },
  'sweep: a negative body size': { args: ['sweep', '--body-size=-1'], says: /--body-size/ },
  'sweep: a negative response delay': { args: ['sweep', '--response-delay=-1ms'], says: /--response-delay/ },
  'sweep: no seconds per cell': { args: ['sweep', '--max-cell-seconds', '0'], says: /--max-cell-seconds/ },
  'sweep: a seed that is no number': { args: ['sweep', '--seed', 'abc'], says: /--seed/ },
  'sweep: an unknown boundary': { args: ['sweep', '--boundaries', 'middle'], says: /--boundaries/ },
  'sweep: no probe samples': { args: ['sweep', '--probe-samples', '0'], says: /--probe-samples/ },
  'sweep: a config file that is missing': { args: ['sweep', '--config', 'missing.json'], says: /--config.*missing\.json/ },
  'sweep: a config file that is a list': { args: ['sweep', '--config', 'list.json'], files: { 'list.json': '[1,2]' }, says: /--config list\.json: must hold one JSON object of settings .* not an array/ },
  'sweep: a config file that is not JSON': { args: ['sweep', '--config', 'bad.json'], files: { 'bad.json': '{proxy: nginx' }, says: /--config bad\.json/ },
  'sweep: a config file with an unknown setting': { args: ['sweep', '--config', 'extra.json'], files: { 'extra.json': '{"colour":"red"}' }, says: /colour/ },
  'sweep: --out names a file': { args: ['sweep', '--out', 'a-file'], files: { 'a-file': 'x' }, says: /--out a-file: is a file, not a directory/ },
  'sweep: --out holds a run already': { args: ['sweep', '--out', 'old'], files: { 'old/trials.jsonl': RUN_HISTORY }, says: /--out old already holds a run/ },
  'sweep: --resume of a directory that is missing': { args: ['sweep', '--resume', 'gone'], says: /--resume.*gone/ },
  'sweep: --resume of a directory without a run': { args: ['sweep', '--resume', 'empty'], files: { 'empty/.keep': '' }, says: /--resume.*empty/ },
  'sweep: --resume with settings of its own': { args: ['sweep', '--resume', 'old', '--proxy-timeout', '2s'], files: { 'old/trials.jsonl': RUN_HISTORY }, says: /--resume.*--proxy-timeout|--proxy-timeout.*--resume/ },
  'sweep: the no-proxy race with an nginx retry policy': { args: ['sweep', '--proxy', 'none', '--retry', 'non_idempotent'], says: /--retry/ },

  // gate
  'gate: no upstream': { args: ['gate', '--proxy-timeout', '2s'], says: /--upstream-cmd|--upstream-url|--upstream-image/ },
  'gate: two upstreams': { args: ['gate', '--proxy-timeout', '2s', ...UPSTREAM, '--upstream-url', 'http://127.0.0.1:1/'], says: /give one of --upstream-cmd .* \(got --upstream-cmd and --upstream-url\)/ },
  'gate: no proxy config and no timeout': { args: ['gate', ...UPSTREAM], says: /--nginx-conf|--proxy-timeout/ },
  'gate: proxy none': { args: ['gate', '--proxy', 'none', '--proxy-timeout', '2s', ...UPSTREAM], says: /--proxy.*(nginx or haproxy)/ },
  'gate: an upstream URL that is no URL': { args: ['gate', '--proxy-timeout', '2s', '--upstream-url', 'localhost'], says: /--upstream-url/ },
  'gate: an https upstream': { args: ['gate', '--proxy-timeout', '2s', '--upstream-url', 'https://127.0.0.1:1/'], says: /--upstream-url.*http:\/\// },
  'gate: an upstream where nothing listens': { args: ['gate', '--proxy-timeout', '2s', '--upstream-url', 'http://127.0.0.1:{refused}/'], says: /nothing answers/ },
  'gate: an upstream that is not HTTP': { args: ['gate', '--proxy-timeout', '2s', '--upstream-url', 'http://127.0.0.1:{notHttp}/'], says: /not an HTTP\/1\.1 server/ },
  'gate: a negative idle wait': { args: ['gate', '--proxy-timeout', '2s', '--max-idle-wait=-5s', ...UPSTREAM], says: /--max-idle-wait/ },
  'gate: a negative margin': { args: ['gate', '--proxy-timeout', '2s', '--min-margin=-1s', ...UPSTREAM], says: /--min-margin/ },
  'gate: a failure rate above 1': { args: ['gate', '--proxy-timeout', '2s', '--max-failure-rate', '2', ...UPSTREAM], says: /--max-failure-rate/ },
  'gate: a confidence above 1': { args: ['gate', '--proxy-timeout', '2s', '--confidence', '1.5', ...UPSTREAM], says: /--confidence/ },
  'gate: a burst of 0': { args: ['gate', '--proxy-timeout', '2s', '--burst', '0', ...UPSTREAM], says: /--burst/ },
  'gate: no seconds': { args: ['gate', '--proxy-timeout', '2s', '--max-seconds', '0', ...UPSTREAM], says: /--max-seconds/ },
  'gate: a proxy timeout nginx cannot hold': { args: ['gate', '--proxy-timeout', '0.5ms', ...UPSTREAM], says: /--proxy-timeout: proxies take whole milliseconds/ },
  'gate: a config file that is missing': { args: ['gate', '--nginx-conf', 'missing.conf', ...UPSTREAM], says: /--nginx-conf.*missing\.conf/ },
  'gate: an nginx config nginx refuses': { args: ['gate', '--nginx-conf', 'bad.conf', ...UPSTREAM], files: { 'bad.conf': NGINX_TEMPLATE.replace('keepalive 8;', 'keepalive_conections 8;') }, says: /nginx -t: .*unknown directive "keepalive_conections"/ },
  'gate: an HAProxy config given to nginx': { args: ['gate', '--proxy', 'haproxy', '--nginx-conf', 'nginx.conf', ...UPSTREAM], files: { 'nginx.conf': NGINX_TEMPLATE }, says: /--nginx-conf.*--haproxy-conf|--haproxy-conf/ },
  'gate: an nginx config that loads a module': { args: ['gate', '--nginx-conf', 'mod.conf', ...UPSTREAM], files: { 'mod.conf': `load_module /tmp/evil.so;\n${NGINX_TEMPLATE}` },
    says: /--nginx-conf mod\.conf:1: "load_module" makes nginx run code from the config .* --allow-config-code/ },
  'gate: an nginx config that runs Perl over two lines': { args: ['gate', '--nginx-conf', 'perl.conf', ...UPSTREAM], files: { 'perl.conf': NGINX_TEMPLATE.replace('location / {', 'location / { perl_set $x\n  \'sub { 1 }\';') },
    says: /--nginx-conf perl\.conf:4: "perl_set"/ },
  'gate: an HAProxy config that loads Lua': { args: ['gate', '--proxy', 'haproxy', '--haproxy-conf', 'lua.cfg', ...UPSTREAM],
    files: { 'lua.cfg': 'global\n    lua-load /tmp/evil.lua\ndefaults\n    mode http\n    timeout http-keep-alive 2s\nfrontend web\n    bind {{listen}}\n    default_backend app\nbackend app\n    server s {{upstream}}\n' },
    says: /--haproxy-conf lua\.cfg:2: "lua-load" makes HAProxy run code/ },
  'gate: an HAProxy config with a program section': { args: ['gate', '--proxy', 'haproxy', '--haproxy-conf', 'prog.cfg', ...UPSTREAM],
    files: { 'prog.cfg': 'program evil\n    command /bin/sh -c true\ndefaults\n    mode http\n    timeout http-keep-alive 2s\nfrontend web\n    bind {{listen}}\n    default_backend app\nbackend app\n    server s {{upstream}}\n' },
    says: /--haproxy-conf prog\.cfg:1: "program" makes HAProxy run code/ },
  'gate: an unknown method': { args: ['gate', '--proxy-timeout', '2s', '--method', 'BREW', ...UPSTREAM], says: /--method/ },
  'gate: environment without a value': { args: ['gate', '--proxy-timeout', '2s', '--upstream-env', 'NOEQUALS', ...UPSTREAM], says: /--upstream-env/ },
  'gate: an unknown fault': { args: ['gate', '--proxy-timeout', '2s', '--fault', 'lag:upstream:1ms', ...UPSTREAM], says: /unknown type "lag"/ },
  'gate: an unknown retry policy': { args: ['gate', '--proxy-timeout', '2s', '--retry', 'sometimes', ...UPSTREAM], says: /--retry/ },
  'gate: an upstream port without an image': { args: ['gate', '--proxy-timeout', '2s', '--upstream-port', '8080', ...UPSTREAM], says: /--upstream-port/ },
  'gate: a seed that is no number': { args: ['gate', '--proxy-timeout', '2s', '--seed', 'x', ...UPSTREAM], says: /--seed/ },
  'gate: a JUnit file in a missing directory': { args: ['gate', '--proxy-timeout', '2s', '--junit', 'missing/dir/report.xml', ...UPSTREAM], says: /--junit missing\/dir\/report\.xml: the directory missing\/dir does not exist/ },
  'gate: --out holds a run already': { args: ['gate', '--proxy-timeout', '2s', '--out', 'old', ...UPSTREAM], files: { 'old/trials.jsonl': RUN_HISTORY }, says: /--out old already holds a run/ },
  'gate: an nginx binary that is not nginx': { args: ['gate', '--proxy-timeout', '2s', '--nginx-bin', '/bin/false', ...UPSTREAM], says: /\/bin\/false is not nginx/ },

  // probe
  'probe: no URL': { args: ['probe'], says: /required option '--url <url>'/ },
  'probe: a URL that is no URL': { args: ['probe', '--url', 'localhost:80'], says: /--url/ },
  'probe: https': { args: ['probe', '--url', 'https://127.0.0.1/'], says: /--url: only http:\/\// },
  'probe: nothing listens': { args: ['probe', '--url', 'http://127.0.0.1:{refused}/'], says: /nothing listens at 127\.0\.0\.1:\d+ \(connection refused\)/ },
  'probe: not an HTTP server': { args: ['probe', '--url', 'http://127.0.0.1:{notHttp}/'], says: /is not an HTTP\/1\.1 server: not an HTTP\/1\.x response: it began with "SSH-2\.0-OpenSSH_9\.2"/ },
  'probe: a negative wait': { args: ['probe', '--url', 'http://127.0.0.1:{refused}/', '--max-wait=-5s'], says: /--max-wait: "-5s" must be above 0/ },
  'probe: no samples': { args: ['probe', '--url', 'http://127.0.0.1:{refused}/', '--samples', '0'], says: /--samples/ },

  // report, explain
  'field: the CONNECT method': { args: ['field', '--url', 'http://127.0.0.1:{refused}/', '--method', 'CONNECT'], says: /--method CONNECT opens a tunnel/ },
  'field: a rate that is no number': { args: ['field', '--url', 'http://127.0.0.1:{refused}/', '--rate', 'NaN'], says: /--rate: "NaN" must be a number above 0/ },
  'field: an infinite time budget': { args: ['field', '--url', 'http://127.0.0.1:{refused}/', '--max-seconds', 'Infinity'], says: /--max-seconds: "Infinity" must be a number above 0/ },
  'field: a URL port out of range': { args: ['field', '--url', 'http://127.0.0.1:99999/'], says: /--url "http:\/\/127\.0\.0\.1:99999\/" is not a URL/ },
  'field: an idle range below 10 ms': { args: ['field', '--url', 'http://127.0.0.1:{refused}/', '--idle', '1ms..100s@1ms'], says: /--idle "1ms\.\.100s@1ms" starts below 10 ms/ },
  'field: --ca that is a FIFO': { args: ['field', '--url', 'https://127.0.0.1:{refused}/', '--ca', 'ca.pem'], fifos: ['ca.pem'], says: /--ca ca\.pem: not a regular file/ },
  'field: --ca with no certificate in it': { args: ['field', '--url', 'https://127.0.0.1:{refused}/', '--ca', 'ca.pem'], files: { 'ca.pem': 'not a certificate\n' }, says: /--ca ca\.pem: no PEM certificate in it/ },
  'field: --ca with a certificate that does not parse': { args: ['field', '--url', 'https://127.0.0.1:{refused}/', '--ca', 'ca.pem'],
    files: { 'ca.pem': '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n' }, says: /--ca ca\.pem: certificate 1 of 1 does not parse/ },
  'field: a header with a line break': { args: ['field', '--url', 'http://127.0.0.1:{refused}/', '--header', 'X-A: 1\r\nX-B: 2'], says: /--header "X-A: 1\\r\\nX-B: 2" is not "Name: value" on one line/ },
  'gate: a health path with a line break': { args: ['gate', '--proxy-timeout', '2s', '--health-path', '/\r\nX: 1', ...UPSTREAM], says: /--health-path: must be a path without spaces or control characters/ },
  'report: a directory that is missing': { args: ['report', 'gone'], says: /gone has no trials\.jsonl/ },
  'report: a history line that is JSON null': { args: ['report', 'run'], files: { 'run/trials.jsonl': `${RUN_HISTORY}null\n` }, says: /trials\.jsonl:2: not a history record/ },
  'report: a history of only a field-run type': { args: ['report', 'run'], files: { 'run/trials.jsonl': '{"type":"field-run"}\n' }, says: /trials\.jsonl:1: a "field-run" record whose startedAt is missing/ },
  'report: a run and a trial with nothing in them': { args: ['report', 'run'], files: { 'run/trials.jsonl': '{"type":"run"}\n{"type":"trial"}\n' }, says: /trials\.jsonl:1: a "run" record whose startedAt is missing/ },
  'report: a trial whose gap is text': { args: ['report', 'run'], files: { 'run/trials.jsonl': `${RUN_HISTORY}${JSON.stringify({ ...TRIAL, gapMs: 'soon' })}\n` },
    says: /trials\.jsonl:2: a "trial" record whose gapMs is wrong/ },
  'report: a history of garbage': { args: ['report', 'run'], files: { 'run/trials.jsonl': 'garbage\n' }, says: /trials\.jsonl:1: not a history record/ },
  'explain: a trial that is not there': { args: ['explain', 'run', '--trial', 'c9-9'], files: { 'run/trials.jsonl': `${RUN_HISTORY}${JSON.stringify(TRIAL)}\n` }, says: /--trial: no trial "c9-9"/ },
  'explain: a directory that is missing': { args: ['explain', 'gone'], says: /gone has no trials\.jsonl/ },

  // toxiproxy
  'toxiproxy: a port out of range': { args: ['toxiproxy', '--port', '99999'], says: /--port: "99999" is not a port number/ },
  'toxiproxy: a host that is no address': { args: ['toxiproxy', '--host', '256.1.1.1'], says: /--host: "256\.1\.1\.1" is not an IP address/ },
  'toxiproxy: a host that is not this machine\'s': { args: ['toxiproxy', '--host', '192.0.2.1', '--port', '0'], says: /192\.0\.2\.1 is not an address of this machine; choose another --host/ },
  'toxiproxy: a negative spin window': { args: ['toxiproxy', '--spin-ms=-1'], says: /--spin-ms/ },

  // soak
  'soak: no rate': { args: ['soak', '--rate', '0'], says: /--rate/ },
  'soak: a negative duration': { args: ['soak', '--duration=-1s'], says: /--duration/ },
  'soak: no pool': { args: ['soak', '--pool', '0'], says: /--pool/ },
  'soak: --out holds a run already': { args: ['soak', '--out', 'old'], files: { 'old/trials.jsonl': RUN_HISTORY }, says: /--out old already holds a run/ },

  // Valid input that fails at run time: exit 1, one line, still nothing left behind.
  'probe: a server that keeps idle connections past --max-wait (a run-time result)': { args: ['probe', '--url', 'http://127.0.0.1:{keepsOpen}/', '--samples', '3', '--max-wait', '300ms'], says: /closed no idle connection within 300 ms \(3 still-open\)/, exit: [1] },

  // Output that goes nowhere: the reader left (a C tool would die of SIGPIPE: 141).
  // Whether the write meets the closed pipe depends on who runs first: 141 when it does, 0 when
  // the text fit in the pipe before `true` ended. Never a stack trace, never a word.
  'profiles into a closed pipe': { args: [], shell: '{cli} profiles | true', says: /^$/, exit: [0, 141] },
};

const MARKER_NAME = 'KEEPALIVE_LAB_BAD_INPUT_CASE';

/** Processes (of this machine) whose environment carries the marker. */
function marked(marker: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`${MARKER_NAME}=${marker}\0`)) {
        found.push(`${entry} ${fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ')}`);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * Marked processes still there a moment after the command ended. The reaper (util/reaper.ts)
 * ends when the command's end closes its stdin, which takes it a few milliseconds more.
 */
function leftAfterExit(marker: string): string[] {
  const deadline = Date.now() + 3000;
  let left = marked(marker);
  while (left.length > 0 && Date.now() < deadline) {
    spawnSync('sleep', ['0.05']);
    left = marked(marker);
  }
  return left;
}

/** Every path under `dir`, relative. */
function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('bad input: one line naming the problem and the fix, exit 2, nothing started, no run directory', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-bad-input-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  let index = 0;
  for (const [name, testCase] of Object.entries(CASES)) {
    it(name, () => {
      const caseDir = path.join(root, `case-${++index}`);
      const cwd = path.join(caseDir, 'cwd');
      const tmp = path.join(caseDir, 'tmp');
      fs.mkdirSync(cwd, { recursive: true });
      fs.mkdirSync(tmp);
      for (const [file, text] of Object.entries(testCase.files ?? {})) {
        fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
        fs.writeFileSync(path.join(cwd, file), text);
      }
      for (const fifo of testCase.fifos ?? []) expect(spawnSync('mkfifo', [path.join(cwd, fifo)]).status).toBe(0);
      const before = tree(cwd);
      const fill = (arg: string) => arg.replace('{refused}', String(refusedPort)).replace('{notHttp}', String(notHttpPort)).replace('{keepsOpen}', String(keepsOpenPort));
      const marker = `case-${index}-${process.pid}`;
      const env = { ...process.env, TMPDIR: tmp, [MARKER_NAME]: marker, NO_COLOR: '1' };
      const result = testCase.shell
        ? spawnSync('/bin/sh', ['-c', testCase.shell.replace('{cli}', `'${process.execPath}' '${CLI}'`)], { cwd, env, encoding: 'utf8', timeout: 30_000 })
        : spawnSync(process.execPath, [CLI, ...testCase.args.map(fill)], { cwd, env, encoding: 'utf8', timeout: 30_000 });
      const stderr = result.stderr.trimEnd();
      const lines = stderr === '' ? [] : stderr.split('\n');
      const context = `${testCase.args.join(' ')}\nstderr:\n${result.stderr}`;
      expect(testCase.exit ?? [2], context).toContain(result.status);
      expect(stderr, context).not.toMatch(/^\s+at |Error: .*\n\s+at /m);
      if (testCase.shell) {
        expect(lines).toEqual([]);
      } else {
        expect(lines, context).toHaveLength(1);
        expect(lines[0], context).toMatch(/^keepalive-lab: /);
        expect(lines[0], context).toMatch(testCase.says);
      }
      expect(tree(cwd), `${context}\na run directory or file was left`).toEqual(before);
      expect(tree(tmp), `${context}\na temp dir was left`).toEqual([]);
      expect(leftAfterExit(marker), `${context}\na process was left`).toEqual([]);
    });
  }
  it('covers at least 60 cases', () => {
    expect(Object.keys(CASES).length).toBeGreaterThanOrEqual(60);
  });
});
