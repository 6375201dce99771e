// report.md: the summary table, then per cell the probe, the window and the rate per gap bin.
import type { CellAnalysis, RunAnalysis } from '../analysis/analyze-history.js';
import { BIN_MS, CORE_RATE } from '../analysis/bins.js';
import { faultsLabel } from '../faults/fault.js';
import { findProxyFlavour } from '../proxy/registry.js';
import { interval, markdownTable, percent, span } from './format.js';
import { summaryTable } from './summary-table.js';
import { loadSentence, runLoadSentence, widthSentences } from './window-text.js';
import { captureSentence } from '../capture/capture-text.js';
import { NODE_VERSION_HEADER, nodeVersionRows } from './node-versions.js';
import { profileOf } from '../scenario/profiles.js';
import { sampleFailureTimelines } from '../explain/trial-timeline.js';
import type { HistoryRecord } from '../history/records.js';
import { shardAgreements } from '../analysis/shard-agreement.js';
import type { RunPrediction } from '../predict/predict-run.js';
import { trafficMarkdown } from './traffic-text.js';
import { AGREEMENT_HEADER, agreementRows, agreementSentence, mergeSentence, SHARD_HEADER, shardRows } from './shard-text.js';


export function markdownReport(analysis: RunAnalysis, history: readonly HistoryRecord[] = [], traffic: RunPrediction | null = null): string {
  const run = analysis.run;
  const versions = Object.entries(analysis.versions).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    analysis.merge ? '# keepalive-lab sweep (merged shards)' : '# keepalive-lab sweep',
    '',
    `Runtime: ${run?.runtime ?? '?'}; proxy: ${run?.proxy ?? '?'}; versions: ${versions || '?'}; started ${run?.startedAt ?? '?'}.`,
    '',
    ...profileLines(run?.settings),
    'Each row is a cell: a proxy idle timeout P, an upstream idle timeout K (closed the Node way',
    '(`stock`) or exactly K after the last response (`exact`)), a method and the proxy\'s retry policy.',
    '"effective close" is when the upstream really closed idle connections (probe median). A trial',
    'reuses a proxy-to-upstream connection that has been idle for the boundary plus an offset; a',
    'failure is any trial without a successful answer: a 502 (nginx) or a connection closed with no',
    'response ("no response": HAProxy\'s way). The rate\'s 95% interval is Wilson\'s; the',
    `core window is the span of ${BIN_MS} ms bins failing at >= ${percent(CORE_RATE, 0)}, offsets relative to the boundary.`,
    '',
    ...[runLoadSentence(run?.settings)].filter((line) => line !== '').flatMap((line) => [line, '']),
    ...[captureSentence(history)].filter((line): line is string => line !== null).flatMap((line) => [line, '']),
    ...(analysis.merge ? [mergeSentence(analysis.merge), ''] : []),
    summaryTable(analysis.cells, analysis.merge),
    '',
    ...trafficMarkdown(traffic),
    ...shardSection(analysis),
    ...nodeVersionSection(analysis),
    ...analysis.cells.flatMap((cell) => [...cellSection(cell, run?.proxy ?? 'nginx'), ...sampleFailures(cell, history)]),
  ].join('\n');
}

function profileLines(settings: Record<string, unknown> | undefined): string[] {
  const profile = profileOf(settings);
  if (!profile) return [];
  return [`Profile **${profile.name}**: ${profile.summary}.`, '', ...profile.models.map((m) => `- models: ${m}`), ...profile.cannotModel.map((c) => `- cannot model: ${c}`), ''];
}

/** A merge's shards: each one's machine and load, and whether the machines agree. */
function shardSection(analysis: RunAnalysis): string[] {
  if (!analysis.merge) return [];
  const agreements = shardAgreements(analysis.cells);
  return [
    '## Shards and their machines', '', markdownTable(SHARD_HEADER, shardRows(analysis.merge)), '',
    ...(agreements.length === 0 ? ['No reference cell was measured by every shard (`sweep --shard I/N --reference-cell ID`): nothing here says whether the machines measure alike.', ''] : []),
    ...agreements.flatMap((agreement) => [agreementSentence(agreement), '', markdownTable(AGREEMENT_HEADER, agreementRows(agreement, analysis.merge)), '']),
  ];
}

function nodeVersionSection(analysis: RunAnalysis): string[] {
  const rows = nodeVersionRows(analysis.cells);
  if (rows.length === 0) return [];
  return ['## Upstream Node versions', '', markdownTable(NODE_VERSION_HEADER, rows), ''];
}

function cellSection(cell: CellAnalysis, proxy: string): string[] {
  const probe = cell.probe;
  const classes = Object.entries(cell.errorClasses).map(([name, count]) => `${name} ${count}`).join(', ');
  const reasons = Object.entries(cell.proxyLog.reasons).map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none';
  const binRows = cell.bins.map((bin) => [bin.boundary, bin.gapOffsetMs.toFixed(1), bin.trials, bin.failures, bin.status502, percent(bin.failureRate, 1), interval(bin.failureRateCi95), bin.failedAttempts]);
  return [
    `## ${cell.id}${cell.completed ? '' : ' (incomplete)'}`,
    '',
    `- Probe: ${probe.samples} idle connections closed at median ${probe.medianCloseMs} ms (p5 ${probe.p5CloseMs}, p95 ${probe.p95CloseMs}); ` +
      `closed by ${Object.entries(probe.closedBy).map(([k, v]) => `${k} ${v}`).join(', ')}; Keep-Alive header: ${probe.advertisedKeepAlive ?? 'none'}.`,
    `- Boundaries: ${cell.boundaries.map((b) => `${b.kind} at ${b.atMs} ms`).join(', ')}.`,
    `- Path: ${cell.path === 'direct' ? `${proxy} straight to the upstream` : `${proxy} -> Toxiproxy -> upstream, faults: ${faultsLabel(cell.faults)}`}.`,
    `- Trials ${cell.trials}: ${classes}. Failure rate per aimed request ${percent(cell.failureRate)} ${interval(cell.failureRateCi95)} (depends on the offsets; W does not); 502 rate ${percent(cell.rate502)} ${interval(cell.rate502Ci95)}; closed without a response: ${cell.closedWithoutResponse}.`,
    ...widthSentences(cell).map((sentence) => `- ${sentence}`),
    ...[loadSentence(cell)].filter((sentence) => sentence !== null).map((sentence) => `- ${sentence}`),
    ...cell.window.map((w) => `- Window at the ${w.boundary} boundary: core ${w.coreMs ? `${span(w.coreMs)} ms` : 'none'}, any failure ${w.anyMs ? `${span(w.anyMs)} ms` : 'none'}` +
      (w.peak ? `, peak ${percent(w.peak.failureRate, 1)} at ${w.peak.gapOffsetMs} ms (${w.peak.trials} trials).` : '.')),
    `- ${findProxyFlavour(proxy)?.logTitle ?? `${proxy} log`}: ${cell.proxyLog.attempts} failed or retried upstream attempts (${reasons})${cell.proxyLog.primeAttempts ? `, and ${cell.proxyLog.primeAttempts} of its untimed priming requests (not trials)` : ''}. Failed trials that reached the upstream: ${cell.failedReachedUpstream} of ${cell.failures}.`,
    '',
    markdownTable(['boundary', 'gap offset (ms)', 'trials', 'failures', '502s', 'rate', '95% CI', `failed attempts in ${proxy} log`], binRows),
    '',
  ];
}

function sampleFailures(cell: CellAnalysis, history: readonly HistoryRecord[]): string[] {
  // A few per cell; `keepalive-lab explain` prints any other.
  const timelines = sampleFailureTimelines(history, cell.id);
  if (timelines.length === 0) return [];
  return [`### Sample failures (first ${timelines.length}; \`keepalive-lab explain DIR --trial ID\` for any other)`, '', ...timelines.flatMap(({ text }) => ['```', text, '```', ''])];
}
