// report.html: one self-contained page (inline CSS and SVG, no script, no external resource) that
// an engineer can open offline or attach to a post-mortem. Every figure comes from the analysis
// of trials.jsonl, so `keepalive-lab report DIR` rebuilds it exactly.
import type { CellAnalysis, RunAnalysis } from '../../analysis/analyze-history.js';
import { BIN_MS, CORE_RATE } from '../../analysis/bins.js';
import { sampleFailureTimelines } from '../../explain/trial-timeline.js';
import { faultsLabel } from '../../faults/fault.js';
import type { HistoryRecord } from '../../history/records.js';
import { formatDuration, interval, percent, span } from '../format.js';
import { pairingAdvice, type PairingAdvice } from '../recommendation.js';
import { verdict } from '../summary-table.js';
import { loadSentence, runLoadSentence, widthColumn, widthSentences } from '../window-text.js';
import { NODE_VERSION_HEADER, nodeVersionRows } from '../node-versions.js';
import { BAND_MIN_TRIALS, blockWidthSpec, gapRateRows, gapRateSpec, heatmapRows, heatmapSpec, nearRows, NEAR_RANGE_MS } from './chart-specs.js';
import { blockWidths } from '../../analysis/block-widths.js';
import type { BlockRecord, TrialRecord } from '../../history/records.js';
import { CSP_META, escapeHtml, figure, STYLE, table } from './html-parts.js';
import { renderSvg } from './vega-svg.js';
import { captureSentence } from '../../capture/capture-text.js';
import { packetFigure, type PacketFinder } from './packet-figure.js';
import { profileOf, type LoadBalancerProfile } from '../../scenario/profiles.js';
import { DISTURBED_OFF_TARGET } from '../../analysis/disturbance.js';
import { shardAgreements } from '../../analysis/shard-agreement.js';
import type { RunPrediction } from '../../predict/predict-run.js';
import { trafficBlock } from './traffic-chart.js';
import { AGREEMENT_HEADER, agreementRows, agreementSentence, mergeSentence, SHARD_HEADER, shardLabel, shardRows } from '../shard-text.js';

export async function htmlReport(analysis: RunAnalysis, history: readonly HistoryRecord[], packets?: PacketFinder, traffic: RunPrediction | null = null): Promise<string> {
  const run = analysis.run;
  const advice = pairingAdvice(analysis.cells, run?.proxy);
  const heatRows = heatmapRows(analysis.cells);
  const heatmap = analysis.cells.length === 0 ? '<p>No cell was measured.</p>' : figure('heatmap', 'Failure rate per timeout pairing and request scenario',
    await renderSvg(heatmapSpec(heatRows)),
    table(['timeout pairing', 'scenario', 'cell', 'failure rate'], heatRows.map((r) => [r.pairing, r.scenario, r.cell, percent(r.failureRate)])));
  const cellSections: string[] = [];
  for (const [index, cell] of analysis.cells.entries()) cellSections.push(await cellSection(cell, index, history, packets));
  const versions = Object.entries(analysis.versions).map(([name, version]) => [name, version]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
${CSP_META}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keepalive-lab sweep ${escapeHtml(run?.startedAt ?? '')}</title>
<style>${STYLE}</style></head>
<body>
<h1>keepalive-lab sweep${analysis.merge ? ' (merged shards)' : ''}</h1>
<p class="meta">Runtime <b>${escapeHtml(run?.runtime ?? '?')}</b>, proxy <b>${escapeHtml(run?.proxy ?? '?')}</b>, started ${escapeHtml(run?.startedAt ?? '?')}.
${analysis.cells.length} cells, ${analysis.cells.reduce((n, c) => n + c.trials, 0)} trials.</p>
${runLoadSentence(run?.settings) === '' ? '' : `<p>${escapeHtml(runLoadSentence(run?.settings))}</p>`}
${captureSentence(history) === null ? '' : `<p>${escapeHtml(captureSentence(history)!)}</p>`}
<p>Each cell is a proxy idle timeout P, an upstream idle timeout K (closed the Node way, <code>stock</code>, or exactly K after
the last response, <code>exact</code>), a method and the proxy's retry policy. A trial reuses a proxy-to-upstream connection that has
been idle for a boundary (when the upstream or the proxy closes it) plus an offset; a failure is any trial without a successful answer
(502s, other errors, closes, resets). Intervals are 95% Wilson intervals; the core window is the span of ${BIN_MS} ms bins failing at
&ge; ${percent(CORE_RATE, 0)}. "(ns)" in the heatmap: the interval includes 0.</p>
${profileBlock(profileOf(run?.settings))}
${shardBlock(analysis)}
<h2>Verdicts and recommendations</h2>
${advice.map(adviceBlock).join('\n')}
${await trafficBlock(traffic)}
${nodeVersionRows(analysis.cells).length === 0 ? '' : `<h2>Upstream Node versions</h2>\n${table(NODE_VERSION_HEADER, nodeVersionRows(analysis.cells))}`}
<h2>Failure rate over the timeout pairings</h2>
${heatmap}
<h2>Cells</h2>
${table(['cell', 'effective close', 'trials', 'failures', 'W ms [95% CI]', 'rate/aimed', '95% CI', '502s', 'no response', 'core window', 'proxy log', 'verdict', ...(analysis.merge ? ['shard · machine'] : [])],
    analysis.cells.map((cell) => [cell.id, `${cell.effectiveCloseMs.toFixed(1)} ms`, cell.trials, cell.failures, widthColumn(cell), percent(cell.failureRate), interval(cell.failureRateCi95),
      cell.status502, cell.closedWithoutResponse, cell.window.filter((w) => w.anyMs).map((w) => `${w.boundary} ${span(w.coreMs)}`).join('; ') || '-',
      Object.entries(cell.proxyLog.reasons).map(([r, n]) => `${n} ${r}`).join(', ') || '-', verdict(cell), ...(analysis.merge ? [shardLabel(analysis.merge, cell.shard)] : [])]), 'summary')}
${cellSections.join('\n')}
<h2>Versions and settings</h2>
${table(['component', 'version'], versions)}
<details><summary>Sweep settings</summary><pre class="settings">${escapeHtml(JSON.stringify(run?.settings ?? {}, null, 2))}</pre></details>
</body></html>
`;
}

/** A merge's shards: which machine measured what, what is missing, whether the machines agree. */
function shardBlock(analysis: RunAnalysis): string {
  if (!analysis.merge) return '';
  const agreements = shardAgreements(analysis.cells);
  return `<h2>Shards and their machines</h2>
<p class="${analysis.merge.missing.length > 0 ? 'partial' : ''}">${escapeHtml(mergeSentence(analysis.merge))}</p>
${table(SHARD_HEADER, shardRows(analysis.merge))}
${agreements.length === 0 ? '<p>No reference cell was measured by every shard (<code>sweep --shard I/N --reference-cell ID</code>): nothing here says whether the machines measure alike.</p>'
    : agreements.map((agreement) => `<p>${escapeHtml(agreementSentence(agreement))}</p>\n${table(AGREEMENT_HEADER, agreementRows(agreement, analysis.merge))}`).join('\n')}`;
}

function profileBlock(profile: LoadBalancerProfile | null): string {
  if (!profile) return '';
  return `<section class="profile"><h2>Profile: ${escapeHtml(profile.name)}</h2><p>${escapeHtml(profile.summary)}.</p>
<ul>${profile.models.map((m) => `<li>models: ${escapeHtml(m)}</li>`).join('')}${profile.cannotModel.map((c) => `<li>cannot model: ${escapeHtml(c)}</li>`).join('')}</ul></section>`;
}

function adviceBlock(advice: PairingAdvice): string {
  return `<section class="advice ${advice.verdict}"><h3>${escapeHtml(advice.label)}: <span class="verdict">${advice.verdict}</span></h3>
<p>${escapeHtml(advice.summary)}</p><p class="fix">${escapeHtml(advice.recommendation)}</p></section>`;
}

async function cellSection(cell: CellAnalysis, index: number, history: readonly HistoryRecord[], packets?: PacketFinder): Promise<string> {
  const rows = gapRateRows(cell.bins);
  const drawn = nearRows(rows);
  const chart = rows.length === 0 ? '<p>No trial was measured in this cell.</p>' : figure(`gap-${index}`, `${cell.id}: failure rate against the idle gap`,
    await renderSvg(gapRateSpec(cell.window, drawn)),
    table(['boundary', 'gap offset (ms)', 'trials', 'failures', '502s', 'rate', '95% CI', 'failed attempts in proxy log', 'drawn'],
      cell.bins.map((bin) => [bin.boundary, bin.gapOffsetMs.toFixed(1), bin.trials, bin.failures, bin.status502, percent(bin.failureRate, 1),
        interval(bin.failureRateCi95), bin.failedAttempts, drawn.some((r) => r.boundary === bin.boundary && r.gapOffsetMs === bin.gapOffsetMs) ? 'yes' : 'no'])));
  const probe = cell.probe;
  const reasons = Object.entries(cell.proxyLog.reasons).map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none';
  return `<section class="cell" id="cell-${escapeHtml(cell.id)}">
<h3>${escapeHtml(cell.id)}${cell.completed ? '' : ' (incomplete)'}: ${escapeHtml(verdict(cell))}</h3>
<ul>
<li>Proxy ${escapeHtml(formatDuration(cell.proxyTimeoutMs))}, upstream ${escapeHtml(formatDuration(cell.upstreamTimeoutMs))} (${escapeHtml(String(cell.upstreamClose))}), ${escapeHtml(String(cell.method))}, retry ${escapeHtml(String(cell.retry))};
${cell.path === 'direct' ? 'proxy straight to the upstream' : `proxy → Toxiproxy → upstream, faults: ${escapeHtml(faultsLabel(cell.faults))}`}.</li>
<li>Probe: ${escapeHtml(String(probe.samples))} idle connections closed at median ${escapeHtml(String(probe.medianCloseMs))} ms (p5 ${escapeHtml(String(probe.p5CloseMs))}, p95 ${escapeHtml(String(probe.p95CloseMs))}); Keep-Alive header: ${escapeHtml(String(probe.advertisedKeepAlive ?? 'none'))}.</li>
<li>Failure rate per aimed request ${percent(cell.failureRate)} ${interval(cell.failureRateCi95)} (${cell.failures} of ${cell.trials}; depends on the offsets, W does not); 502 rate ${percent(cell.rate502)} ${interval(cell.rate502Ci95)}; closed without a response: ${cell.closedWithoutResponse}.</li>
${widthSentences(cell).map((sentence) => `<li>${escapeHtml(sentence)}</li>`).join('\n')}
${[loadSentence(cell)].filter((sentence) => sentence !== null).map((sentence) => `<li>${escapeHtml(sentence)}</li>`).join('')}
${cell.window.map((w) => `<li>Window at the ${escapeHtml(String(w.boundary))} boundary: core ${w.coreMs ? `${span(w.coreMs)} ms` : 'none'}, any failure ${w.anyMs ? `${span(w.anyMs)} ms` : 'none'}` +
    `${w.peak ? `, peak ${percent(w.peak.failureRate, 1)} at ${w.peak.gapOffsetMs} ms (${w.peak.trials} trials)` : ''}.</li>`).join('\n')}
<li>Proxy log: ${cell.proxyLog.attempts} failed or retried upstream attempts (${escapeHtml(reasons)})${cell.proxyLog.primeAttempts ? `, and ${cell.proxyLog.primeAttempts} of its untimed priming requests (not trials)` : ''}; failed trials that reached the upstream: ${cell.failedReachedUpstream} of ${cell.failures}.</li>
</ul>
<p class="note">The chart shows bins in [${NEAR_RANGE_MS[0]}, ${NEAR_RANGE_MS[1]}) ms; the table lists every bin with its interval. The shaded band is each bin's 95% interval, drawn only where a bin holds ${BAND_MIN_TRIALS} or more trials: fewer give intervals too wide to read (0 of 3 reaches 56%), so such bins are faded points without a band.</p>
${chart}
${await blockFigure(cell, index, history)}
${sampleFailures(cell, history, packets)}
</section>`;
}

/** W against load, block by block: drawn for a cell whose window was measured over 3 blocks or more. */
async function blockFigure(cell: CellAnalysis, index: number, history: readonly HistoryRecord[]): Promise<string> {
  const width = [...cell.windowWidth].sort((a, b) => b.widthMs - a.widthMs)[0];
  if (!width || width.widthMs === 0 || width.strata === 0) return '';
  const trials = history.filter((record): record is TrialRecord => record.type === 'trial' && record.cell === cell.id);
  const blocks = history.filter((record): record is BlockRecord => record.type === 'block' && record.cells.includes(cell.id));
  const excluded = new Set(width.excludedBlocks.map((block) => block.block));
  const rows = blockWidths(trials, width.boundary, width.spanMs / width.strata, blocks).map((row) => ({ ...row, leftOut: excluded.has(row.block) }));
  if (rows.length < 3) return '';
  const share = (value: number | undefined) => (value === undefined ? '-' : percent(value, 0));
  return `<p class="note">W against load: each block measured the same pairing, so a W that climbs with the block's share of trials
landed off their stratum (the harness stalled, and the proxy and upstream with it) is the machine's, not the pairing's. Blocks right of the
dashed line (${percent(DISTURBED_OFF_TARGET, 0)}) are disturbed, and left out of the cell's W (the solid line) unless every block was.</p>
${figure(`blocks-${index}`, `${cell.id}: W of each block against its load (${width.boundary} boundary)`,
    await renderSvg(blockWidthSpec(rows, width.widthMs)),
    table(['block', 'trials', 'W ms', 'off their stratum', 'left out', 'machine busy', 'CPU stolen'],
      rows.map((row) => [row.block, row.trials, row.widthMs.toFixed(3), percent(row.offTarget, 0), row.leftOut ? 'yes' : 'no', share(row.machineBusyShare), share(row.machineStealShare)])))}`;
}

function sampleFailures(cell: CellAnalysis, history: readonly HistoryRecord[], packets?: PacketFinder): string {
  const timelines = sampleFailureTimelines(history, cell.id);
  if (timelines.length === 0) return '';
  return `<h4>Sample failures (<code>keepalive-lab explain DIR --trial ID</code> for any other)</h4>
${timelines.map(({ trial, text }) => `<pre class="timeline">${escapeHtml(text)}</pre>${packets ? packetFigure(packets(trial), trial) : ''}`).join('\n')}`;
}
