import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { haproxyReason, parseHaproxyLogLine } from '../../src/proxy/haproxy/log.js';
import { HAPROXY_LOG_FORMAT, renderHaproxyConf, type HaproxySpec } from '../../src/proxy/haproxy/render.js';
import { prepareUserHaproxyConf } from '../../src/proxy/haproxy/user-conf.js';
import { renderedHaproxyTemplate } from '../../src/proxy/haproxy/template.js';
import { parseSweepConfig } from '../../src/scenario/sweep-config.js';
import { which } from '../../src/util/which.js';

const spec: HaproxySpec = { lanes: 3, keepaliveTimeoutMs: 500, retry: 'default', httpReuse: 'safe' };
const addresses = { listen: '127.0.0.1:8080', upstream: '127.0.0.1:9090' };

describe('renderHaproxyConf', () => {
  it('gives each lane its own backend, routed by the lane path, with the idle timeout', () => {
    const conf = renderHaproxyConf(spec, addresses);
    expect(conf.match(/^backend lane_\d+$/gm)).toEqual(['backend lane_0', 'backend lane_1', 'backend lane_2']);
    expect(conf.match(/server upstream 127\.0\.0\.1:9090/g)).toHaveLength(3);
    expect(conf).toContain('bind 127.0.0.1:8080');
    expect(conf).toContain('use_backend lane_%[path,field(3,/)]');
    expect(conf).toContain('timeout http-keep-alive 500ms');
    expect(conf).toContain('http-reuse safe');
    expect(conf).toContain('log stderr format raw');
  });
  it('renders each retry policy', () => {
    expect(renderHaproxyConf(spec, addresses)).not.toMatch(/^\s*(retries|retry-on) /m);
    expect(renderHaproxyConf({ ...spec, retry: 'off' }, addresses)).toContain('retries 0');
    expect(renderHaproxyConf({ ...spec, retry: 'all_retryable' }, addresses)).toContain('retry-on all-retryable-errors');
  });
  it.skipIf(!which('haproxy'))('is a config haproxy -c accepts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-unit-'));
    try {
      const file = path.join(dir, 'haproxy.cfg');
      fs.writeFileSync(file, renderHaproxyConf({ ...spec, retry: 'all_retryable' }, addresses));
      const result = spawnSync(which('haproxy')!, ['-c', '-f', file], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HAProxy log', () => {
  const line = (status: number, term: string, retries: number) =>
    `keepalive-lab status=${status} term=${term} retries=${retries} tr=0 req="POST /lane/3/?t=c1.42 HTTP/1.1"`;
  it('keeps 5xx and retried requests, keyed to the trial', () => {
    expect(parseHaproxyLogLine(line(502, 'SH', 0), 5)).toMatchObject({ type: 'proxy-log', at: 5, level: 'error', reason: 'server_aborted', trial: 'c1.42' });
    expect(parseHaproxyLogLine(line(200, '--', 1), 5)).toMatchObject({ level: 'info', reason: 'retried', trial: 'c1.42' });
    expect(parseHaproxyLogLine(line(504, 'sH', 0), 5)?.reason).toBe('timed_out');
  });
  it('drops requests answered at the first attempt, and unrelated lines', () => {
    expect(parseHaproxyLogLine(line(200, '--', 0), 5)).toBeNull();
    expect(parseHaproxyLogLine('keepalive-lab status=400 term=CR retries=0 tr=-1 req="<BADREQ>"', 5)).toBeNull();
    expect(parseHaproxyLogLine('[NOTICE]   (1) : haproxy version is 2.6.12', 5)).toBeNull();
    expect(parseHaproxyLogLine('[WARNING]  (1) : config : something', 5)).toMatchObject({ level: 'warning', trial: null });
  });
  it('names the reason from status, termination state and retries', () => {
    expect(haproxyReason(503, 'SC', 3)).toBe('server_aborted');
    expect(haproxyReason(503, 'CC', 0)).toBe('other');
    expect(haproxyReason(200, '--', 0)).toBeNull();
  });
});

describe('sweep config for HAProxy', () => {
  it('defaults to comparing HAProxy\'s own retries with retry-on', () => {
    expect(parseSweepConfig({ proxy: 'haproxy' }).retry).toEqual(['default', 'all_retryable']);
    expect(parseSweepConfig({}).retry).toEqual(['default', 'off']);
  });
  it('refuses a retry policy of the other proxy, and the nginx profiles', () => {
    expect(() => parseSweepConfig({ proxy: 'haproxy', retry: ['non_idempotent'] })).toThrow(/retry: "non_idempotent" is not a retry policy of HAProxy: use default, off, all_retryable/);
    expect(() => parseSweepConfig({ retry: ['all_retryable'] })).toThrow(/"all_retryable" is not a retry policy of nginx/);
    expect(() => parseSweepConfig({ proxy: 'haproxy', profile: 'alb' })).toThrow(/profiles are nginx settings/);
    expect(() => parseSweepConfig({ proxy: 'envoy' })).toThrow(/proxy: not a proxy: use nginx, haproxy, caddy or none/);
  });
});

describe('prepareUserHaproxyConf', () => {
  const full = `global
    daemon
    log /dev/log local0
    stats socket /run/haproxy/admin.sock mode 660 level admin

defaults
    mode http
    option httplog
    timeout client 50s
    timeout http-keep-alive 2s
    retries 2

frontend web
    bind *:8080
    bind :::8080 v4v6
    default_backend app

backend app
    retry-on empty-response
    server a 10.0.0.5:3000 check
    server b 10.0.0.6:3000 check
`;
  const options = { sourcePath: 'deploy/haproxy.cfg', backend: 'app', upstreamAddress: '127.0.0.1:7000', listenPort: 9999 };

  it('points the backend at the chain, binds 127.0.0.1, and silences what acts outside the run', () => {
    const conf = prepareUserHaproxyConf(full, options);
    expect(conf.text).toContain('    server a 127.0.0.1:7000 check');
    expect(conf.text).not.toMatch(/^\s*server b/m);
    expect(conf.text.match(/^\s*bind .*/gm)).toEqual(['    bind 127.0.0.1:8080']);
    expect(conf.text).not.toMatch(/^\s*(daemon|stats socket|log \/dev\/log|option httplog)/m);
    expect(conf.text).toContain('log stderr format raw local0 info');
    expect(conf.text).toContain(`log-format "${HAPROXY_LOG_FORMAT}"`);
    expect(conf).toMatchObject({ listenPort: 8080, listenFromConfig: true, listenAt: 'deploy/haproxy.cfg:14', upstreamBlock: 'app', keepaliveTimeoutMs: 2000, retrySetting: 'retries 2; retry-on empty-response' });
  });
  it('moves every bind to 127.0.0.1: several addresses, other frontends, beside a {{listen}}', () => {
    const more = full.replace('    bind :::8080 v4v6\n', '    bind :::8080 v4v6\n    bind 0.0.0.0:8081,:::8082\n') + 'frontend stats\n    bind *:8404\n    default_backend app\n';
    expect(prepareUserHaproxyConf(more, options).text.match(/^\s*bind .*/gm)).toEqual(['    bind 127.0.0.1:8080', '    bind 127.0.0.1:8081,127.0.0.1:8082', '    bind 127.0.0.1:8404']);
    const template = prepareUserHaproxyConf('defaults\n    mode http\n    timeout http-keep-alive 1s\nfrontend f\n    bind {{listen}}\n    default_backend b\nfrontend g\n    bind :9090\n    default_backend b\nbackend b\n    server s {{upstream}}\n', { sourcePath: 't.cfg', upstreamAddress: '127.0.0.1:7000', listenPort: 9999 });
    expect(template.text.match(/^\s*bind .*/gm)).toEqual(['    bind 127.0.0.1:9999', '    bind 127.0.0.1:9090']);
    expect(template).toMatchObject({ listenPort: 9999, listenFromConfig: false });
  });
  it('maps each line back to the user\'s line number', () => {
    const conf = prepareUserHaproxyConf(full, options);
    const lines = conf.text.split('\n');
    const bogus = lines.findIndex((line) => line.includes('timeout http-keep-alive'));
    expect(conf.sourceLines[bogus]).toBe(10);
    expect(conf.sourceLines[lines.indexOf('    log stderr format raw local0 info')]).toBeNull();
  });
  it('falls back from http-keep-alive to http-request to client, as HAProxy does', () => {
    expect(prepareUserHaproxyConf(full.replace('    timeout http-keep-alive 2s\n', ''), options).keepaliveTimeoutMs).toBe(50_000);
    expect(prepareUserHaproxyConf(full.replace('timeout http-keep-alive 2s', 'timeout http-keep-alive 750'), options).keepaliveTimeoutMs).toBe(750);
  });
  it('knows a backend that never reuses its server connections', () => {
    expect(prepareUserHaproxyConf(full.replace('backend app\n', 'backend app\n    option http-server-close\n'), options).noReuseReason).toMatch(/option http-server-close/);
  });
  it('fills a template\'s placeholders', () => {
    const conf = prepareUserHaproxyConf('defaults\n    mode http\n    timeout http-keep-alive 1s\nfrontend f\n    bind {{listen}}\n    default_backend b\nbackend b\n    server s {{upstream}}\n', { sourcePath: 't.cfg', upstreamAddress: '127.0.0.1:7000', listenPort: 9999 });
    expect(conf.text).toContain('bind 127.0.0.1:9999');
    expect(conf.text).toContain('server s 127.0.0.1:7000');
    expect(conf).toMatchObject({ listenPort: 9999, listenFromConfig: false, keepaliveTimeoutMs: 1000 });
  });
  it('says what is missing, in one line', () => {
    expect(() => prepareUserHaproxyConf(full, { ...options, backend: 'api' })).toThrow(/^--backend api: no backend or listen section of that name in deploy\/haproxy.cfg \(it has: app\)/);
    const { backend: _backend, ...withoutBackend } = options;
    expect(() => prepareUserHaproxyConf(full, withoutBackend)).toThrow(/no \{\{upstream\}\} placeholder/);
    expect(() => prepareUserHaproxyConf(full.replace('bind *:8080', 'bind *:8443 ssl crt /etc/x.pem'), options)).toThrow(/:14: the gate speaks plain HTTP\/1.1/);
  });
});

describe('the gate\'s rendered HAProxy config', () => {
  it('carries the idle timeout and the retry policy, and reads back as written', () => {
    const options = { sourcePath: '(rendered)', upstreamAddress: '127.0.0.1:7000', listenPort: 9999 };
    expect(prepareUserHaproxyConf(renderedHaproxyTemplate(60_000, 'default'), options)).toMatchObject({ keepaliveTimeoutMs: 60_000, retrySetting: null, listenPort: 9999 });
    expect(prepareUserHaproxyConf(renderedHaproxyTemplate(60_000, 'all_retryable'), options).retrySetting).toBe('retries 3; retry-on all-retryable-errors');
    expect(prepareUserHaproxyConf(renderedHaproxyTemplate(500, 'off'), options)).toMatchObject({ keepaliveTimeoutMs: 500, retrySetting: 'retries 0' });
  });
});
