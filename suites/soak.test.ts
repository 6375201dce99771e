// Soak traffic (issue 5, part 6): Poisson arrivals through nginx's shared upstream pool, the
// way production traffic meets the race, counted per 10,000 requests as a load balancer's logs
// count 502s. K = 5 ms exact behind P = 60 s, 200 requests/s, pool 8: idle gaps near the close
// are common (mean arrival gap 5 ms), so the rate is large enough to measure in seconds.
// Claims: a POST (nginx does not retry it) fails as a 502 at a measurable rate; a GET under
// nginx's default retry fails far less while nginx logs the attempts it retried.
// The POST rate moves with the machine's load (measured 0.2% to 1.1% per request across runs),
// so comparing the two methods' rates per 10,000 needs more requests than a suite can send to
// resolve on every run (it flaked at 7 of 2,010). What the samples always resolve is the share
// of the race hits nginx logged that became failures: all of them for a POST, almost none for
// a GET that nginx retried on another connection.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wilsonInterval } from '../src/index.js';
import type { SoakAnalysis, SoakCellAnalysis } from '../src/index.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RATE = 200;
const SECONDS = 30;

describe('soak: Poisson traffic through nginx\'s shared pool, K=5ms exact behind P=60s [local]', () => {
  let tmp: string;
  let soak: SoakAnalysis;
  let stdout: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-soak-test-'));
    const out = path.join(tmp, 'run');
    const result = spawnSync(process.execPath, [CLI, 'soak', '--proxy-timeout', '60s', '--upstream-timeout', '5ms', '--methods', 'GET,POST', '--retry', 'default',
      '--rate', String(RATE), '--duration', `${SECONDS}s`, '--pool', '8', '--runtime', 'local', '--out', out], { encoding: 'utf8', timeout: 170_000 });
    expect(result.status, result.stderr).toBe(0);
    stdout = result.stdout;
    soak = JSON.parse(fs.readFileSync(path.join(out, 'soak.json'), 'utf8')) as SoakAnalysis;
    expect(fs.existsSync(path.join(out, 'soak.md'))).toBe(true);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const cell = (method: string): SoakCellAnalysis => soak.cells.find((c) => c.method === method)!;

  it('sends the Poisson arrivals it was asked for', () => {
    for (const c of soak.cells) {
      // A Poisson count over 30 s at 200/s: 6000 +- 77 (1 sd); 5 sd either side.
      const sd = Math.sqrt(RATE * SECONDS);
      expect(c.requests, c.id).toBeGreaterThan(RATE * SECONDS - 5 * sd);
      expect(c.requests, c.id).toBeLessThan(RATE * SECONDS + 5 * sd);
      expect(c.completed).toBe(true);
    }
    expect(stdout).toMatch(/\| per 10,000 \|/);
  });

  it('a POST fails at the close as a 502, at a rate per 10,000 whose interval clears 0', () => {
    const post = cell('POST');
    // Measured 21.5 per 10,000 (13 of 6,050; 95% CI [12.6, 36.7]).
    expect(post.perTenThousandCi95[0], `${post.failures} of ${post.requests}`).toBeGreaterThan(0);
    expect(post.status502).toBe(post.failures);
    expect(post.proxyLogAttempts).toBeGreaterThanOrEqual(post.failures);
    // The race's opportunities: the upstream closed idle connections while traffic ran.
    expect(post.upstreamIdleCloses).toBeGreaterThan(100);
  });

  it('a GET under nginx\'s default retry fails far less, while nginx logs what it retried', () => {
    const get = cell('GET');
    const post = cell('POST');
    const counts = `GET ${get.failures}/${get.requests} (${get.proxyLogAttempts} logged), POST ${post.failures}/${post.requests} (${post.proxyLogAttempts} logged)`;
    // Measured: GET 0 failures of 19 logged race hits; POST 13 of 13.
    expect(get.proxyLogAttempts, counts).toBeGreaterThan(0);
    expect(post.proxyLogAttempts, counts).toBeGreaterThan(0);
    const getLost = wilsonInterval(get.failures, get.proxyLogAttempts);
    const postLost = wilsonInterval(post.failures, post.proxyLogAttempts);
    expect(getLost[1], counts).toBeLessThan(postLost[0]);
    // And per request: fewer GETs failed than POSTs (the POST count is above 0, asserted above).
    expect(get.failures, counts).toBeLessThan(post.failures);
  });
});
