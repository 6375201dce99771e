// A gate run's directory beside its history: summary.json (the verdict), report.md and
// report.html (the verdict, its evidence and the gap chart of the decisive close). Everything is
// derived from trials.jsonl, so `keepalive-lab report DIR` rebuilds it, and a run that was
// interrupted before its verdict still shows every trial it fired.
import fs from 'node:fs';
import path from 'node:path';
import { binTrials, windowEdges, type GapBin } from '../analysis/bins.js';
import { sampleFailureTimelines } from '../explain/trial-timeline.js';
import { readHistoryFile } from '../history/history-file.js';
import type { HistoryRecord, ProxyLogRecord, RunRecord, TrialRecord } from '../history/records.js';
import { interval, markdownTable, percent } from '../report/format.js';
import { gapRateRows, gapRateSpec, nearRows } from '../report/html/chart-specs.js';
import { CSP_META, escapeHtml, figure, STYLE, table } from '../report/html/html-parts.js';
import { renderSvg } from '../report/html/vega-svg.js';
import { packetFigure, type PacketFinder } from '../report/html/packet-figure.js';
import { runCaptures } from '../capture/run-capture.js';
import { captureSentence } from '../capture/capture-text.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { GATE_CELL, type GateHistoryRecord, type GateSetupRecord, type GateVerdictRecord } from './gate-history.js';
import { gateText, verdictLabel } from './gate-report.js';
import type { GateResult } from './gate-result.js';
import { writeRunFile } from '../util/run-dir-files.js';

/** What the reports are made of, read once from the history. */
export interface GateRun {
  run: RunRecord | null;
  setup: GateSetupRecord | null;
  /** Null when the run ended before its verdict (interrupted, or failed at run time). */
  result: GateResult | null;
  trials: TrialRecord[];
  bins: GapBin[];
  history: HistoryRecord[];
}

/** A gate run from its directory's records (read from DIR/trials.jsonl unless given). */
export function readGateRun(dir: string, records: readonly GateHistoryRecord[] = readHistoryFile<GateHistoryRecord>(path.join(dir, HISTORY_FILE))): GateRun {
  const history = records.filter((record): record is HistoryRecord => record.type !== 'gate-setup' && record.type !== 'gate-verdict');
  const trials = history.filter((record): record is TrialRecord => record.type === 'trial' && record.cell === GATE_CELL);
  const logged = new Set(history.filter((record): record is ProxyLogRecord => record.type === 'proxy-log' && record.trial !== null).map((record) => record.trial));
  return {
    run: history.find((record): record is RunRecord => record.type === 'run') ?? null,
    setup: records.find((record): record is GateSetupRecord => record.type === 'gate-setup') ?? null,
    result: [...records].reverse().find((record): record is GateVerdictRecord => record.type === 'gate-verdict')?.result ?? null,
    trials,
    bins: binTrials(trials, 0.95, (trial) => logged.has(trial.id)),
    history,
  };
}

/** Reads DIR/trials.jsonl of a gate run (or takes its records) and (re)writes summary.json, report.md and report.html. */
export async function writeGateOutputs(dir: string, records?: readonly GateHistoryRecord[]): Promise<GateRun> {
  const gate = readGateRun(dir, records);
  const summary = gate.result ?? { outcome: null, reason: 'the run ended before a verdict', trials: gate.trials.length };
  writeRunFile(dir, 'summary.json', `${JSON.stringify(summary, null, 2)}\n`);
  writeRunFile(dir, 'report.md', gateMarkdown(gate));
  // A run made with --capture draws its sample failures' packets too.
  const captures = runCaptures(dir, gate.history);
  writeRunFile(dir, 'report.html', await gateHtml(gate, captures.captured ? (trial) => captures.find(trial) : undefined));
  return gate;
}

function headline(gate: GateRun): string {
  return gate.result ? `${verdictLabel(gate.result)}: ${gate.result.reason}` : `no verdict: the run ended after ${gate.trials.length} trials, before it decided`;
}

function aimedAt(setup: GateSetupRecord | null): string {
  const decisive = setup?.decisive;
  if (!decisive || decisive.atMs === null || decisive.gapsMs.length === 0) return 'The gate fired no trials at a close (see the verdict for why).';
  return `Trials reused an idle proxy-to-upstream connection after ${decisive.gapsMs[0]}..${decisive.gapsMs.at(-1)} ms, around the ${decisive.boundary}'s ` +
    `close at ${decisive.atMs.toFixed(1)} ms; offsets below are the measured idle gap (from the client's receipt of the previous answer) minus that close.`;
}

const BIN_HEADER = ['gap offset (ms)', 'trials', 'failures', 'rate', '95% CI', 'failed attempts in proxy log'];
const binRow = (bin: GapBin) => [bin.gapOffsetMs.toFixed(1), bin.trials, bin.failures, percent(bin.failureRate, 1), interval(bin.failureRateCi95), bin.failedAttempts];

export function gateMarkdown(gate: GateRun): string {
  const samples = sampleFailureTimelines(gate.history, GATE_CELL, 3);
  return [
    `# keepalive-lab gate: ${gate.result ? verdictLabel(gate.result) : 'no verdict'}`,
    '',
    headline(gate),
    '',
    `Started ${gate.run?.startedAt ?? '?'}; ${gate.trials.length} trials.`,
    '',
    '## Evidence',
    '',
    '```',
    gate.result ? gateText(gate.result) : '(no verdict record)',
    '```',
    '',
    '## Failure rate by idle gap',
    '',
    aimedAt(gate.setup),
    '',
    gate.bins.length === 0 ? '(no trial)' : markdownTable(BIN_HEADER, gate.bins.map(binRow)),
    '',
    ...(samples.length === 0 ? [] : ['## Sample failures', '', '`keepalive-lab explain DIR --trial ID` prints any other.', '', ...samples.flatMap(({ text }) => ['```', text, '```', ''])]),
    `Rebuilt from ${HISTORY_FILE} by \`keepalive-lab report DIR\`.`,
    '',
  ].join('\n');
}

/**
 * The evidence lines as a two-column list (label, text) whose text wraps within its column: long
 * lines (a command, a log line) stay readable at any width, where a <pre> cut them at its edge.
 */
function evidenceList(text: string): string {
  const items = text.split('\n').slice(1).map((line) => {
    const labelled = /^ {2}(\S+)\s+(.*)$/.exec(line);
    return labelled ? `<dt>${escapeHtml(labelled[1]!)}</dt><dd>${escapeHtml(labelled[2]!)}</dd>` : `<dd class="whole">${escapeHtml(line.trim())}</dd>`;
  });
  return `<dl class="evidence">\n${items.join('\n')}\n</dl>`;
}

export async function gateHtml(gate: GateRun, packets?: PacketFinder): Promise<string> {
  const result = gate.result;
  const kind = !result ? 'undecided' : result.outcome === 'pass' ? 'pass' : result.failureKind === 'masked' ? 'masked' : result.outcome === 'fail' ? 'fail' : 'undecided';
  const rows = gapRateRows(gate.bins);
  const drawn = nearRows(rows);
  const chart = rows.length === 0 ? '<p>No trial was fired.</p>' : figure('gap', 'Failure rate against the idle gap, at the decisive close',
    await renderSvg(gapRateSpec(windowEdges(gate.bins), drawn)), table(BIN_HEADER, gate.bins.map(binRow)));
  const samples = sampleFailureTimelines(gate.history, GATE_CELL, 3);
  const capture = captureSentence(gate.history);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
${CSP_META}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keepalive-lab gate ${escapeHtml(gate.run?.startedAt ?? '')}</title>
<style>${STYLE}</style></head>
<body>
<h1>keepalive-lab gate</h1>
<p class="meta">Started ${escapeHtml(gate.run?.startedAt ?? '?')}, ${gate.trials.length} trials.</p>
<section class="gate-verdict ${kind}"><h2>${escapeHtml(result ? verdictLabel(result) : 'no verdict')}</h2>
<p>${escapeHtml(result ? result.reason : headline(gate))}</p>
${result?.fix ? `<p class="fix">Fix: ${escapeHtml(result.fix.text)}</p>` : ''}</section>
<h2>Evidence</h2>
${result ? evidenceList(gateText(result)) : '<p>(no verdict record)</p>'}
<h2>Failure rate by idle gap</h2>
<p>${escapeHtml(aimedAt(gate.setup))}</p>
${chart}
${samples.length === 0 ? '' : `<h3>Sample failures (<code>keepalive-lab explain DIR --trial ID</code> for any other)</h3>\n${samples.map(({ trial, text }) => `<pre class="timeline">${escapeHtml(text)}</pre>${packets ? packetFigure(packets(trial), trial) : ''}`).join('\n')}`}
${capture === null ? '' : `<p>${escapeHtml(capture)}</p>`}
<details><summary>Gate settings</summary><pre class="settings">${escapeHtml(JSON.stringify(gate.run?.settings ?? {}, null, 2))}</pre></details>
</body></html>
`;
}
