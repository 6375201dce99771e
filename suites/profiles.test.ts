// Load-balancer profiles: presets beneath the user's settings, and what they change at the
// boundary. The alb profile never retries, so a GET that meets the upstream's close is a 502;
// nginx-default retries it on a new connection and the client never sees it (docs/race.md#nginx).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepConfigFromFlags } from '../src/cli/sweep-command.js';
import { parseSweepConfig } from '../src/scenario/sweep-config.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-profiles-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Cell { id: string; retry: string; proxyTimeoutMs: number; trials: number; failures: number; failureRateCi95: [number, number]; proxyLog: { attempts: number } }

function sweepWithProfile(profile: string): { cells: Cell[]; settings: { profile?: string } } {
  const out = path.join(tmp, profile);
  const result = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'local', '--profile', profile, '--upstream-timeout', '100ms', '--methods', 'GET',
    '--offsets=-2ms..0ms@0.5ms', '--trials', '60', '--lanes', '32', '--out', out, '--no-progress'], { encoding: 'utf8', timeout: 170_000 });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toContain(`profile ${profile}: `);
  return JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { cells: Cell[]; settings: { profile?: string } };
}

describe('load-balancer profiles', () => {
  it('preset settings go beneath the user\'s: flags and config files win', () => {
    expect(parseSweepConfig({ profile: 'alb' })).toMatchObject({ proxyTimeout: [60_000], retry: ['off'] });
    expect(parseSweepConfig({ profile: 'gclb' })).toMatchObject({ proxyTimeout: [600_000], retry: ['default'] });
    expect(sweepConfigFromFlags({ profile: 'alb', proxyTimeout: '350s', progress: true })).toMatchObject({ proxyTimeout: [350_000], retry: ['off'] });
    expect(() => sweepConfigFromFlags({ profile: 'elb', progress: true })).toThrow('--profile: not a profile: use nginx-default, alb, gclb (keepalive-lab profiles says what each models)');
  });

  it('alb: a GET at the upstream\'s close is a 502 (no retry); nginx-default: retried, the client sees none', () => {
    const alb = sweepWithProfile('alb');
    expect(alb.settings.profile).toBe('alb');
    const [albCell] = alb.cells;
    expect(albCell).toMatchObject({ retry: 'off', proxyTimeoutMs: 60_000 });
    expect(albCell!.failureRateCi95[0], `${albCell!.failures} of ${albCell!.trials}`).toBeGreaterThan(0);

    const nginx = sweepWithProfile('nginx-default');
    const [nginxCell] = nginx.cells;
    expect(nginxCell).toMatchObject({ retry: 'default', proxyTimeoutMs: 60_000, failures: 0 });
    // The race happened all the same: nginx logged the failed attempts it retried.
    expect(nginxCell!.proxyLog.attempts).toBeGreaterThan(0);
  });

  it('profiles says what each models and cannot', () => {
    const result = spawnSync(process.execPath, [CLI, 'profiles'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    for (const name of ['nginx-default', 'alb', 'gclb']) expect(result.stdout).toMatch(new RegExp(`^${name}: `, 'm'));
    expect(result.stdout).toMatch(/cannot model: /);
  });
});
