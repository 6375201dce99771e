import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { haproxyReason, parseHaproxyLogLine } from '../../src/proxy/haproxy/log.js';
import { renderHaproxyConf, type HaproxySpec } from '../../src/proxy/haproxy/render.js';
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
    expect(() => parseSweepConfig({ proxy: 'haproxy', retry: ['non_idempotent'] })).toThrow(/retry: "non_idempotent" is not a haproxy retry policy: use default, off, all_retryable/);
    expect(() => parseSweepConfig({ retry: ['all_retryable'] })).toThrow(/"all_retryable" is not an nginx retry policy/);
    expect(() => parseSweepConfig({ proxy: 'haproxy', profile: 'alb' })).toThrow(/profiles are nginx settings/);
    expect(() => parseSweepConfig({ proxy: 'envoy' })).toThrow(/proxy: not a proxy: use nginx or haproxy/);
  });
});
