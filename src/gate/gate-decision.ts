// The gate's fix, as a pure function of what was measured. (When to decide, and how: the
// sequential design in sequential-design.ts.) The words are the proxy flavour's own
// (src/proxy/<flavour>/gate.ts).
import { proxyFlavour } from '../proxy/registry.js';
import { nodeKeepAliveFor } from '../upstream/node-keepalive.js';
import type { ProxyName } from '../vocabulary.js';

export type GateOutcome = 'pass' | 'fail' | 'undecided';

export interface FixInput {
  proxyLabel: string;
  upstreamBlock: string | null;
  /** The proxy flavour whose words the fix is in (default nginx). */
  proxyFlavour?: ProxyName;
  proxyTimeoutMs: number;
  /** The upstream's measured idle close (probe median) and its early tail (p5). */
  upstreamCloseMs: number;
  upstreamCloseP5Ms: number;
}

export interface Fix {
  text: string;
  /** For scripts (and the suite that applies it): the smallest safe settings, in ms. */
  nodeKeepAliveTimeoutMs: number;
  nodeHeadersTimeoutMs: number;
  /** The proxy's idle timeout (nginx's upstream keepalive_timeout) must stay at or below this. */
  proxyKeepaliveTimeoutBelowMs: number;
}

/**
 * What to change, from the measured close: the upstream must outlast the proxy by a whole
 * second (Node's own close then comes another second later, its keepAliveTimeoutBuffer), or
 * the proxy must let go well before the upstream's earliest close (p5): a second before it,
 * or half of it for closes under two seconds, in 100 ms steps.
 */
export function recommendFix(input: FixInput): Fix {
  const keepAlive = nodeKeepAliveFor(input.proxyTimeoutMs);
  const headers = keepAlive + 1000;
  const margin = Math.min(1000, input.upstreamCloseP5Ms / 2);
  const proxyBelow = Math.max(0, Math.floor((input.upstreamCloseP5Ms - margin) / 100) * 100);
  const flavour = proxyFlavour(input.proxyFlavour);
  if (!flavour.gate) throw new Error(`${flavour.name} is not a proxy the gate runs`);
  const fix = { nodeKeepAliveTimeoutMs: keepAlive, nodeHeadersTimeoutMs: headers, proxyKeepaliveTimeoutBelowMs: proxyBelow };
  return { text: flavour.gate.fix({ ...fix, proxyLabel: input.proxyLabel, upstreamBlock: input.upstreamBlock, proxyTimeoutMs: input.proxyTimeoutMs, upstreamCloseMs: input.upstreamCloseMs }), ...fix };
}
