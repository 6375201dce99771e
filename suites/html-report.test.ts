// report.html of a default sweep, as a person opens it: in headless Chromium, offline. The
// screenshot is kept in test-results/ for a person to look at.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAND_MIN_TRIALS } from '../src/report/html/chart-specs.js';
import { inkFraction, launchChromium } from './support/chromium.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../test-results/report-screenshot.png', import.meta.url));
let tmp: string;
let run: string;
let browser: Browser | undefined;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-html-test-'));
  run = path.join(tmp, 'run');
  // The default sweep, exactly as the README's first command runs it (on the local runtime).
  const sweep = spawnSync(process.execPath, [CLI, 'sweep', '--runtime', 'local', '--out', run, '--no-progress'], { encoding: 'utf8', timeout: 170_000 });
  expect(sweep.status, sweep.stderr).toBe(0);
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('report.html of a default sweep', () => {
  it('renders every chart with its axes in headless Chromium, and makes no network request', async () => {
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')) as { cells: { id: string; windowWidth: { widthMs: number; blocks: number; excludedBlocks: unknown[] }[] }[] };
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageUrl = pathToFileURL(path.join(run, 'report.html')).href;
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pageUrl, { waitUntil: 'load' });

    const charts = await page.locator('figure.chart').evaluateAll((figures) => figures.map((figure) => {
      const svg = figure.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      const axes = [...(svg?.querySelectorAll('.role-axis') ?? [])];
      return {
        id: figure.id,
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        axes: axes.length,
        axisTitles: [...(svg?.querySelectorAll('.role-axis-title text') ?? [])].map((t) => t.textContent ?? ''),
        tickLabels: [...(svg?.querySelectorAll('.role-axis-label text') ?? [])].filter((t) => (t.textContent ?? '').trim() !== '').length,
        marks: svg?.querySelectorAll('.role-mark path, .role-mark rect, .role-mark text').length ?? 0,
        hasDataTable: figure.querySelector('details table tbody tr') !== null,
      };
    }));
    // One heatmap over the pairings and one gap chart per cell; after it, W against load block by
    // block for each cell that measured a window over 3 blocks or more (the racing cells).
    const withBlocks = (i: number) => summary.cells[i]!.windowWidth.some((w) => w.widthMs > 0 && w.blocks + w.excludedBlocks.length >= 3);
    expect(charts.map((c) => c.id)).toEqual(['heatmap', ...summary.cells.flatMap((_, i) => [`gap-${i}`, ...(withBlocks(i) ? [`blocks-${i}`] : [])])]);
    expect(charts.some((c) => c.id.startsWith('blocks-'))).toBe(true);
    for (const chart of charts) {
      expect(chart.width, chart.id).toBeGreaterThan(200);
      expect(chart.height, chart.id).toBeGreaterThan(80);
      expect(chart.axes, chart.id).toBeGreaterThanOrEqual(2);
      expect(chart.axisTitles.filter((t) => t.trim() !== '').length, chart.id).toBeGreaterThanOrEqual(2);
      expect(chart.tickLabels, chart.id).toBeGreaterThanOrEqual(4);
      expect(chart.marks, chart.id).toBeGreaterThan(0);
      expect(chart.hasDataTable, chart.id).toBe(true);
    }

    // The pixels, not only the DOM: each chart's own screenshot carries ink (axes, marks, text).
    for (const chart of charts) {
      const png = await page.locator(`#${chart.id} svg`).screenshot();
      expect(await inkFraction(browser, png), chart.id).toBeGreaterThan(0.02);
    }
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(requests).toEqual([pageUrl]);
    const external = await page.evaluate(() => [...document.querySelectorAll('[src], link[href], script')].length);
    expect(external).toBe(0);
  });

  it('draws a bin\'s interval band only where the bin holds enough trials: no gap chart\'s rate axis stretches to a thin bin\'s interval, and the legend says so', async () => {
    browser ??= await launchChromium();
    const page = await browser.newPage();
    await page.goto(pathToFileURL(path.join(run, 'report.html')).href, { waitUntil: 'load' });
    const charts = await page.locator('figure.chart[id^="gap-"]').evaluateAll((figures) => figures.map((figure) => ({
      id: figure.id,
      rateAxis: figure.querySelector('svg [aria-label^="Y-axis titled \'failure rate\'"]')?.getAttribute('aria-label') ?? '',
      text: figure.querySelector('svg')?.textContent ?? '',
      // The data table under the chart: boundary, offset, trials, failures, 502s, rate, 95% CI, attempts, drawn.
      rows: [...figure.querySelectorAll('details table tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    })));
    expect(charts.length).toBeGreaterThan(0);
    const percentOf = (text: string) => Number(text.replace('%', '')) / 100;
    let thinBinsDrawn = 0;
    for (const chart of charts) {
      expect(chart.text, chart.id).toContain(`band: 95% interval, drawn where a bin holds ${BAND_MIN_TRIALS} or more trials`);
      const axisTop = percentOf(/ to ([\d.]+%)$/.exec(chart.rateAxis)?.[1] ?? 'NaN');
      const drawn = chart.rows.filter((cells) => cells[8] === 'yes').map((cells) => ({
        trials: Number(cells[2]), rate: percentOf(cells[5]!), ciHigh: percentOf(/, ([\d.]+%)\]/.exec(cells[6]!)![1]!),
      }));
      thinBinsDrawn += drawn.filter((bin) => bin.trials < BAND_MIN_TRIALS).length;
      // What the chart may reach: every drawn rate, and the intervals of the bins with a band.
      const reach = Math.max(0, ...drawn.map((bin) => bin.rate), ...drawn.filter((bin) => bin.trials >= BAND_MIN_TRIALS).map((bin) => bin.ciHigh));
      // Vega rounds the axis up to a nice value; a thin bin's band (0 of 1 reaches 79%) would go far past it.
      expect(axisTop, `${chart.id}: ${chart.rateAxis}`).toBeLessThanOrEqual(Math.max(2 * reach, reach + 0.05));
    }
    console.log(`gap charts: ${charts.length}, thin bins drawn without a band: ${thinBinsDrawn}`);
    await page.close();
  });

  it('says a verdict and a recommendation for each timeout pairing', () => {
    const html = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
    // The default sweep's pairings: nginx 60 s over a 100 ms upstream (unsafe), 50 ms (safe).
    expect(html).toMatch(/proxy 60s · upstream 100ms \(exact\): <span class="verdict">unsafe<\/span>/);
    expect(html).toMatch(/server\.keepAliveTimeout &gt;= 61s/);
    expect(html).toMatch(/proxy 50ms · upstream 100ms \(exact\): <span class="verdict">safe<\/span>/);
  });

  it('report DIR rebuilds the same page from trials.jsonl alone', () => {
    const copy = path.join(tmp, 'copy');
    fs.mkdirSync(copy);
    fs.copyFileSync(path.join(run, 'trials.jsonl'), path.join(copy, 'trials.jsonl'));
    const result = spawnSync(process.execPath, [CLI, 'report', copy], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    for (const file of ['report.html', 'summary.json', 'report.md']) {
      expect(fs.readFileSync(path.join(copy, file), 'utf8'), file).toBe(fs.readFileSync(path.join(run, file), 'utf8'));
    }
  });
});
