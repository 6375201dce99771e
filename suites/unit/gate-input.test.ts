// The gate's one validation: the CLI's flags and the library's gate() go through the same
// schema, and each problem is one line naming the setting as the caller wrote it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gate } from '../../src/api.js';
import { gateOptionsFromFlags } from '../../src/cli/gate-command.js';
import { parseGateInput } from '../../src/gate/gate-input.js';
import { UsageError } from '../../src/util/errors.js';

/** The CLI's flags as commander gives them: its defaults as text, repeatable flags as lists. */
const flags = (over: Record<string, unknown>) => ({
  proxy: 'nginx', retry: 'default', upstreamEnv: [], healthPath: '/', method: 'GET', maxFailureRate: '0.001', confidence: '0.95', fault: [],
  maxSeconds: '600', maxIdleWait: '10s', minMargin: '1s', seed: '1', proxyTimeout: '60s', upstreamCmd: 'node app.js', ...over,
} as Parameters<typeof gateOptionsFromFlags>[0]);

const base = { proxyTimeoutMs: 60_000, upstreamCmd: 'node app.js' };

describe('gate input', () => {
  it('fills the CLI\'s defaults for a library call and reads durations given as text', () => {
    expect(parseGateInput({ proxyTimeoutMs: '2s', upstreamUrl: 'http://127.0.0.1:3000/' }, 'fields')).toMatchObject({
      proxy: 'nginx', proxyTimeoutMs: 2000, retry: 'default', healthPath: '/', method: 'GET', maxFailureRate: 0.001, confidence: 0.95,
      faults: [], maxSeconds: 600, maxIdleWaitMs: 10_000, minMarginMs: 1000, seed: 1,
    });
  });

  it('gives the CLI and the library the same checks, each naming the setting its own way', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>, string, string][] = [
      [{ maxFailureRate: '2' }, { maxFailureRate: 2 }, '--max-failure-rate: must be below 1 (0.001 is 0.1%)', 'maxFailureRate: must be below 1 (0.001 is 0.1%)'],
      [{ confidence: 'high' }, { confidence: 'high' }, '--confidence: "high" is not a number', 'confidence: "high" is not a number'],
      [{ maxIdleWait: '-5s' }, { maxIdleWaitMs: '-5s' }, '--max-idle-wait: must be above 0', 'maxIdleWaitMs: must be above 0'],
      [{ minMargin: '-1s' }, { minMarginMs: -1000 }, '--min-margin: must not be negative', 'minMarginMs: must not be negative'],
      [{ proxy: 'none' }, { proxy: 'none' }, '--proxy: "none" is not a proxy flavour for the gate: use nginx or haproxy', 'proxy: "none" is not a proxy flavour for the gate: use nginx or haproxy'],
      [{ method: 'get' }, { method: 'get' }, '--method: is not an HTTP method (e.g. GET, POST)', 'method: is not an HTTP method (e.g. GET, POST)'],
      [{ upstreamUrl: 'http://127.0.0.1:1/' }, { upstreamUrl: 'http://127.0.0.1:1/' }, 'give one of --upstream-cmd "CMD", --upstream-url URL or --upstream-image IMAGE (got --upstream-cmd and --upstream-url)',
        'give one of upstreamCmd "CMD", upstreamUrl URL or upstreamImage IMAGE (got upstreamCmd and upstreamUrl)'],
      [{ nginxConf: '/nonexistent/nginx.conf', proxyTimeout: undefined }, { nginxConf: '/nonexistent/nginx.conf', proxyTimeoutMs: undefined }, '--nginx-conf: /nonexistent/nginx.conf does not exist', 'nginxConf: /nonexistent/nginx.conf does not exist'],
      [{ retry: 'all_retryable' }, { retry: 'all_retryable' }, '--retry: "all_retryable" is not a retry policy of nginx: use default, off, non_idempotent', 'retry: "all_retryable" is not a retry policy of nginx: use default, off, non_idempotent'],
      [{ fault: ['latency:sideways:5ms'] }, { faults: ['latency:sideways:5ms'] }, '--fault: ', 'faults: '],
      [{ burst: '0' }, { burstSize: 0 }, '--burst: must be at least 1', 'burstSize: must be at least 1'],
    ];
    for (const [cli, call, cliMessage, callMessage] of cases) {
      expect(() => gateOptionsFromFlags(flags(cli)), cliMessage).toThrow(UsageError);
      expect(() => gateOptionsFromFlags(flags(cli))).toThrow(cliMessage);
      expect(() => parseGateInput({ ...base, ...call }, 'fields')).toThrow(callMessage);
    }
  });

  it('refuses a run directory that already holds a run, and makes none while checking', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-gate-input-'));
    try {
      fs.writeFileSync(path.join(dir, 'trials.jsonl'), '{"type":"run"}\n');
      expect(() => gateOptionsFromFlags(flags({ out: dir }))).toThrow(`--out ${dir} already holds a run (trials.jsonl): choose another directory`);
      expect(() => parseGateInput({ ...base, out: dir }, 'fields')).toThrow(`out ${dir} already holds a run (trials.jsonl): choose another directory`);
      expect(() => gateOptionsFromFlags(flags({ out: path.join(dir, 'trials.jsonl') }))).toThrow(/^--out .* is a file, not a directory: give a directory for the run$/);
      const fresh = path.join(dir, 'fresh');
      expect(gateOptionsFromFlags(flags({ out: fresh })).out).toBe(fresh);
      expect(fs.existsSync(fresh)).toBe(false);
      expect(gateOptionsFromFlags(flags({ record: false })).out).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a setting it does not know (a typo in a test), listing the ones it takes', () => {
    expect(() => parseGateInput({ ...base, maxFailurRate: 0.01 }, 'fields')).toThrow(/^unknown setting "maxFailurRate": the gate takes proxy, nginxConf, .*maxFailureRate/);
  });

  it('gate() rejects bad input with the same one line, before starting anything', async () => {
    await expect(gate({ ...base, maxFailureRate: 2 })).rejects.toThrow(new UsageError('maxFailureRate: must be below 1 (0.001 is 0.1%)'));
    await expect(gate({ ...base, upstreamEnv: { 'NOT A NAME': '1' } })).rejects.toThrow(/^upstreamEnv: needs KEY=VALUE with a variable name/);
  });
});
