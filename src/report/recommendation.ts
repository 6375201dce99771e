// A plain-language verdict and fix per timeout pairing, computed from what was measured (the
// effective close and the cells' intervals), never from the configured values alone: a Node
// upstream in stock mode closes about a second after its keepAliveTimeout, and the fix must
// be stated against when it really closes.
import type { CellAnalysis } from '../analysis/analyze-history.js';
import { faultsLabel } from '../faults/fault.js';
import type { ProxyFlavour } from '../proxy/flavour.js';
import { findProxyFlavour, proxyFlavour } from '../proxy/registry.js';
import { formatDuration } from '../util/duration.js';
import { percent } from './format.js';
import { verdict } from './summary-table.js';
import { nodeKeepAliveFor } from '../upstream/node-keepalive.js';
import { quantile } from '../util/stats.js';

export interface PairingAdvice {
  /** Cells of one pairing: the same proxy timeout, upstream timeout, close mode and faults. */
  key: string;
  label: string;
  cells: CellAnalysis[];
  /** The decisive reading: 'unsafe' when some cell races, 'masked' when only retries hid it. */
  verdict: 'unsafe' | 'masked' | 'safe' | 'inconclusive';
  summary: string;
  recommendation: string;
}

export function pairingLabel(cell: CellAnalysis): string {
  const faults = cell.path === 'direct' ? '' : ` · via Toxiproxy (${faultsLabel(cell.faults)})`;
  const node = cell.upstreamNode === undefined ? '' : ` · Node ${cell.upstreamNodeVersion ?? cell.upstreamNode}`;
  // With no proxy (cells with a client), P is the node-agent-timeout client's own idle timeout.
  const first = cell.client !== undefined ? `no proxy (agent timeout ${formatDuration(cell.proxyTimeoutMs)})` : `proxy ${formatDuration(cell.proxyTimeoutMs)}`;
  return `${first} · upstream ${formatDuration(cell.upstreamTimeoutMs)} (${cell.upstreamClose}${cell.closeStyle === 'rst' ? ', RST' : ''})${node}${faults}`;
}

export function groupByPairing(cells: readonly CellAnalysis[]): Map<string, CellAnalysis[]> {
  const groups = new Map<string, CellAnalysis[]>();
  for (const cell of cells) {
    const key = pairingLabel(cell);
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  return groups;
}

export function pairingAdvice(cells: readonly CellAnalysis[], proxy?: string): PairingAdvice[] {
  // A stored run's proxy is data: a name this version does not know is advised on as nginx.
  const flavour = findProxyFlavour(proxy) ?? proxyFlavour();
  return [...groupByPairing(cells)].map(([key, group]) => adviceFor(key, group, flavour));
}

function adviceFor(key: string, cells: CellAnalysis[], proxy: ProxyFlavour): PairingAdvice {
  const proxyMs = cells[0]!.proxyTimeoutMs;
  const closeMs = quantile(cells.map((cell) => cell.effectiveCloseMs), 0.5);
  const racing = cells.filter((cell) => cell.failureRateCi95[0] > 0);
  const masked = cells.filter((cell) => cell.failures === 0 && cell.proxyLog.attempts > 0);
  const worst = cells.reduce((a, b) => (b.failureRate > a.failureRate ? b : a));
  const scenario = (cell: CellAnalysis) => (cell.client !== undefined ? `${cell.method} through ${cell.client}` : `${cell.method} with retry ${cell.retry}`);
  const verdictOf: PairingAdvice['verdict'] = racing.length > 0 ? 'unsafe'
    : masked.length > 0 ? 'masked'
      : cells.every((cell) => verdict(cell).startsWith('no failure')) ? 'safe' : 'inconclusive';

  const ordering = proxy.passThrough
    ? `The upstream closes idle connections at ${closeMs.toFixed(1)} ms (measured); with no proxy, each client decides when to let an idle socket go.`
    : closeMs <= proxyMs
    ? `The upstream closes idle connections at ${closeMs.toFixed(1)} ms (measured), before the proxy's ${formatDuration(proxyMs)} limit: ` +
      'the proxy keeps connections in its pool that the upstream is about to close.'
    : `The proxy drops idle connections at ${formatDuration(proxyMs)}, ${(closeMs - proxyMs).toFixed(1)} ms before the upstream closes them at ${closeMs.toFixed(1)} ms (measured).`;
  const summary = [
    ordering,
    racing.length > 0
      ? `Failures in ${racing.map(scenario).join('; ')}; worst ${scenario(worst)}: ${worst.failures} of ${worst.trials} (${percent(worst.failureRate)}, 95% CI up to ${percent(worst.failureRateCi95[1])}).`
      : masked.length > 0
        ? `No trial failed, but the proxy's log shows ${masked.reduce((n, c) => n + c.proxyLog.attempts, 0)} failed upstream attempts that a retry hid (${masked.map(scenario).join('; ')}).`
        : `No trial failed in ${cells.reduce((n, c) => n + c.trials, 0)} trials (each cell's 95% upper bound: ${cells.map((c) => percent(c.failureRateCi95[1])).join(', ')}).`,
  ].join(' ');

  return { key, label: key, cells, verdict: verdictOf, summary, recommendation: recommend(proxyMs, closeMs, verdictOf, proxy) };
}

function recommend(proxyMs: number, closeMs: number, verdictOf: PairingAdvice['verdict'], proxy: ProxyFlavour): string {
  if (proxy.passThrough) {
    // No proxy: the client's own pool reuses the socket; its fixes are the client's settings.
    const fix = `keep the client's idle timeout below the server's close (${closeMs.toFixed(0)} ms measured): an http.Agent \`timeout\`, undici's keepAliveTimeout; ` +
      'or have the server advertise its timeout (Keep-Alive: timeout=N, which http.Agent and undici honour here); or retry idempotent requests on ECONNRESET';
    return verdictOf === 'unsafe' ? `Unsafe for the clients that raced: ${fix}.` : `No client raced as measured; what keeps them out: ${fix}.`;
  }
  // Node's keepAliveTimeout is the knob most users hold; a whole second above the proxy's
  // limit leaves room for the stock close's timer granularity and for network delay.
  const nodeFix = `set the upstream's idle timeout above the proxy's: for Node, server.keepAliveTimeout >= ${formatDuration(nodeKeepAliveFor(proxyMs))} ` +
    `and server.headersTimeout above it; or lower ${proxy.idleSetting} well below ${closeMs.toFixed(0)} ms`;
  if (closeMs <= proxyMs) {
    if (verdictOf === 'masked') return `Unsafe ordering, hidden by retries: requests the proxy will not retry (POST, or retry off) fail at this boundary. Fix: ${nodeFix}.`;
    if (verdictOf === 'unsafe') return `Unsafe: ${nodeFix}.`;
    return `No failure was measured, but the ordering is unsafe (the upstream closes first); ${nodeFix}.`;
  }
  if (verdictOf === 'unsafe' && proxy.unsafeAfterOwnClose) return proxy.unsafeAfterOwnClose(proxyMs);
  if (verdictOf === 'unsafe') {
    return `Unsafe although the proxy closes first: the margin of ${(closeMs - proxyMs).toFixed(1)} ms is inside the window here. ` +
      'Widen it: raise the upstream\'s idle timeout or lower the proxy\'s by at least a few tens of milliseconds more.';
  }
  if (verdictOf === 'masked') return 'Retries hid failed attempts although the proxy closes first: widen the margin between the two timeouts.';
  return `Safe as measured: keep the upstream's idle timeout above the proxy's (margin now ${(closeMs - proxyMs).toFixed(1)} ms).`;
}
