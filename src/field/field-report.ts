// A field run's words and files: the verdict as text and JSON for the terminal, and beside the
// history summary.json, report.md and report.html (the gap curve). The files come from
// trials.jsonl alone, so `keepalive-lab report DIR` rebuilds them, and a run stopped early still
// shows every request it sent.
import fs from 'node:fs';
import path from 'node:path';
import { readHistoryFile } from '../history/history-file.js';
import { interval, markdownTable, percent } from '../report/format.js';
import { CSP_META, escapeHtml, figure, STYLE, table } from '../report/html/html-parts.js';
import { renderSvg, type ChartSpec } from '../report/html/vega-svg.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import type { FieldHistoryRecord, FieldRunRecord, FieldTrialRecord, FieldVerdictRecord } from './field-history.js';
import { curvesOf, fieldVerdict, rateText, type CurveBin, type FieldResult } from './field-verdict.js';
import { writeRunFile } from '../util/run-dir-files.js';

export const OUTCOME_LABEL: Record<FieldResult['outcome'], string> = {
  race: 'RACE SEEN', none: 'NO RACE SEEN', unconfirmed: 'UNCONFIRMED', stopped: 'STOPPED', disturbed: 'CANNOT TELL', interrupted: 'INTERRUPTED',
};

/** The verdict for a terminal: what was seen, the evidence, the fix, and what it cannot prove. */
export function fieldText(result: FieldResult): string {
  return [
    `field: ${OUTCOME_LABEL[result.outcome]}: ${result.reason}`,
    `  ${result.method} ${result.url}: ${result.requests} requests in ${result.groups} groups, ${result.seconds.toFixed(1)} s`,
    ...(result.estimatedCloseMs !== null ? [`  the upstream's idle close as seen through the stack: ${(result.estimatedCloseMs / 1000).toFixed(3)} s`] : []),
    `  gateway failures (502, reset, closed without an answer) over every aimed request: ${rateText(result.overall)}`,
    ...(Object.keys(result.otherFailures).length > 0 ? [`  other failures, not counted as the race: ${Object.entries(result.otherFailures).map(([kind, count]) => `${kind} x${count}`).join(', ')}`] : []),
    ...(result.fix ? [`  fix: ${result.fix}`] : []),
    '  what this cannot prove:',
    ...result.limits.map((limit) => `  - ${limit}`),
  ].join('\n');
}

export const fieldJson = (result: FieldResult) => JSON.stringify(result, null, 2);

/** What the reports are made of, read once from the history. */
interface FieldRun {
  run: FieldRunRecord | null;
  trials: FieldTrialRecord[];
  result: FieldResult | null;
}

export function readFieldRun(records: readonly FieldHistoryRecord[]): FieldRun {
  return {
    run: records.find((record): record is FieldRunRecord => record.type === 'field-run') ?? null,
    trials: records.filter((record): record is FieldTrialRecord => record.type === 'field-trial'),
    result: [...records].reverse().find((record): record is FieldVerdictRecord => record.type === 'field-verdict')?.result ?? null,
  };
}

/** Reads DIR/trials.jsonl of a field run (or takes its records) and (re)writes summary.json, report.md and report.html. */
export async function writeFieldOutputs(dir: string, records: readonly FieldHistoryRecord[] = readHistoryFile<FieldHistoryRecord>(path.join(dir, HISTORY_FILE))): Promise<FieldResult | null> {
  const field = readFieldRun(records);
  // The curves come from the trials, as the verdict's own did; a run that ended before its
  // verdict still has them: the verdict of what it measured, marked so.
  const aimed = field.trials.filter((trial) => trial.phase !== 'prime');
  const result = field.result && field.run ? { ...field.result, ...curvesOf(field.run.plan, aimed, field.result.candidates) } : field.result ?? (field.run ? fieldVerdict({ plan: field.run.plan, url: field.run.target.url, method: field.run.target.method, trials: field.trials,
    groups: new Set(field.trials.map((trial) => trial.group)).size, seconds: 0, candidates: [], stop: { outcome: 'interrupted', reason: `the run ended before its verdict, after ${field.trials.length} requests` } }) : null);
  writeRunFile(dir, 'summary.json', `${JSON.stringify(result ?? { outcome: null, reason: 'no field-run record' }, null, 2)}\n`);
  writeRunFile(dir, 'report.md', fieldMarkdown(field, result));
  writeRunFile(dir, 'report.html', await fieldHtml(field, result));
  return result;
}

const CURVE_HEADER = ['idle gap (ms)', 'for', 'requests', 'gateway failures', 'rate', '95% CI'];
const curveRow = (bin: CurveBin) => [`${bin.fromMs}-${bin.toMs}`, bin.label ?? '', bin.trials, bin.failures, percent(bin.rate), interval(bin.ci95)];
const hasLabels = (curve: readonly CurveBin[]) => curve.some((bin) => bin.label);
const curveRows = (curve: readonly CurveBin[]) => curve.map(curveRow).map((row) => (hasLabels(curve) ? row : row.filter((_, index) => index !== 1)));
const curveHeader = (curve: readonly CurveBin[]) => (hasLabels(curve) ? CURVE_HEADER : CURVE_HEADER.filter((_, index) => index !== 1));

function fieldMarkdown(field: FieldRun, result: FieldResult | null): string {
  return [
    `# keepalive-lab field: ${result ? OUTCOME_LABEL[result.outcome] : 'no verdict'}`,
    '',
    `Started ${field.run?.startedAt ?? '?'} against ${field.run ? `${field.run.target.method} ${field.run.target.url}` : '?'}; ${field.trials.length} requests.`,
    '',
    '```',
    result ? fieldText(result) : '(no verdict)',
    '```',
    '',
    '## Failure rate by idle gap',
    '',
    'Each group of requests was sent at once, an aimed idle gap after the previous group\'s earliest answer; a request\'s gap is measured from its own write. Rates are of gateway failures (502, reset, closed without an answer).',
    '',
    result && result.curve.length > 0 ? markdownTable(curveHeader(result.curve), curveRows(result.curve)) : '(no request)',
    '',
    ...(result && result.closeUp.length > 0 ? ['### Around the close, 1 ms bins', '', markdownTable(curveHeader(result.closeUp), curveRows(result.closeUp)), ''] : []),
    `Rebuilt from ${HISTORY_FILE} by \`keepalive-lab report DIR\`.`,
    '',
  ].join('\n');
}

/** A gap curve: failure rate per bin with its 95% interval, and the estimated close. */
function curveSpec(curve: readonly CurveBin[], result: FieldResult): ChartSpec {
  const rows = curve.filter((bin) => bin.trials > 0).map((bin) => ({ gapS: (bin.fromMs + bin.toMs) / 2000, rate: bin.rate, low: bin.ci95[0], high: bin.ci95[1], requests: bin.trials }));
  const x = { field: 'gapS', type: 'quantitative', title: 'idle gap (s), middle of each bin', scale: { zero: false } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 600,
    height: 220,
    layer: [
      { data: { values: rows }, mark: { type: 'rule', color: '#c0392b', opacity: 0.5 }, encoding: { x, y: { field: 'low', type: 'quantitative', title: 'gateway failure rate', axis: { format: '.0%' } }, y2: { field: 'high' } } },
      { data: { values: rows }, mark: { type: 'point', filled: true, color: '#c0392b' }, encoding: { x, y: { field: 'rate', type: 'quantitative' } } },
      ...(result.estimatedCloseMs !== null ? [{ data: { values: [{ gapS: result.estimatedCloseMs / 1000 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x } } as const] : []),
    ],
  } as ChartSpec;
}

async function fieldHtml(field: FieldRun, result: FieldResult | null): Promise<string> {
  const kind = !result ? 'undecided' : result.outcome === 'race' ? 'fail' : result.outcome === 'none' ? 'pass' : 'undecided';
  const chart = !result || result.curve.every((bin) => bin.trials === 0) ? '<p>No request was aimed.</p>'
    : figure('curve', 'Gateway failure rate against the idle gap, the bins of --idle (lines: 95% intervals; dashed: the estimated close)', await renderSvg(curveSpec(result.curve, result)), table(curveHeader(result.curve), curveRows(result.curve)));
  const closeUp = !result || result.closeUp.length === 0 ? ''
    : figure('close-up', 'Around the close, 1 ms bins: the race window as the groups met it', await renderSvg(curveSpec(result.closeUp, result)), table(curveHeader(result.closeUp), curveRows(result.closeUp)));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
${CSP_META}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keepalive-lab field ${escapeHtml(field.run?.startedAt ?? '')}</title>
<style>${STYLE}</style></head>
<body>
<h1>keepalive-lab field</h1>
<p class="meta">Started ${escapeHtml(field.run?.startedAt ?? '?')} against ${escapeHtml(field.run ? `${field.run.target.method} ${field.run.target.url}` : '?')}, ${field.trials.length} requests.</p>
<section class="gate-verdict ${kind}"><h2>${escapeHtml(result ? OUTCOME_LABEL[result.outcome] : 'no verdict')}</h2>
<p>${escapeHtml(result ? result.reason : 'no verdict')}</p>
${result?.fix ? `<p class="fix">Fix: ${escapeHtml(result.fix)}</p>` : ''}</section>
<h2>Evidence</h2>
<pre class="settings">${escapeHtml(result ? fieldText(result) : '(no verdict)')}</pre>
<h2>Failure rate by idle gap</h2>
${chart}
${closeUp}
<details><summary>Plan</summary><pre class="settings">${escapeHtml(JSON.stringify(field.run ? { ...field.run.plan, bins: field.run.plan.bins.length } : {}, null, 2))}</pre></details>
</body></html>
`;
}
