// The gate's fix, as a pure function of what was measured. (When to decide, and how: the
// sequential design in sequential-design.ts.)

export type GateOutcome = 'pass' | 'fail' | 'undecided';

export interface FixInput {
  proxyLabel: string;
  upstreamBlock: string | null;
  /** How the proxy's setting and its place are named: nginx (default) or HAProxy. */
  proxyFlavour?: 'nginx' | 'haproxy';
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
  /** The proxy's upstream keepalive_timeout must stay below this. */
  proxyKeepaliveTimeoutBelowMs: number;
}

/** A measured time: "1.00 s", "6.01 s", "61.0 s". */
const measured = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
/** A setting: whole seconds when it is one ("61 s"), else milliseconds ("500 ms"). */
const setting = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/**
 * What to change, from the measured close: the upstream must outlast the proxy by a whole
 * second (Node's own close then comes another second later, its keepAliveTimeoutBuffer), or
 * the proxy must let go well before the upstream's earliest close (p5): a second before it,
 * or half of it for closes under two seconds, in 100 ms steps.
 */
/** The smallest Node keepAliveTimeout that outlasts a proxy timeout by a whole second, in whole seconds. */
export function nodeKeepAliveFor(proxyTimeoutMs: number): number {
  return Math.ceil((proxyTimeoutMs + 1000) / 1000) * 1000;
}

export function recommendFix(input: FixInput): Fix {
  const keepAlive = nodeKeepAliveFor(input.proxyTimeoutMs);
  const headers = keepAlive + 1000;
  const margin = Math.min(1000, input.upstreamCloseP5Ms / 2);
  const proxyBelow = Math.max(0, Math.floor((input.upstreamCloseP5Ms - margin) / 100) * 100);
  const haproxy = input.proxyFlavour === 'haproxy';
  const block = input.upstreamBlock ? (haproxy ? ` for backend ${input.upstreamBlock}` : ` in upstream ${input.upstreamBlock}`) : '';
  const proxySetting = haproxy ? 'timeout http-keep-alive' : 'keepalive_timeout';
  if (haproxy) {
    // HAProxy keeps idle server connections in its pool past timeout http-keep-alive (measured:
    // run-gate.ts), so lowering it bounds nothing; its retry-on was measured to hide the race.
    const text = `upstream closes idle connections at ${measured(input.upstreamCloseMs)}, ${input.proxyLabel} keeps them past its timeout http-keep-alive (${setting(input.proxyTimeoutMs)}) in its idle pool: ` +
      `add "retries 3" and "retry-on all-retryable-errors"${block} (measured: no failure left, POST included), and make the upstream outlast HAProxy's idle connections ` +
      `(for Node, server.keepAliveTimeout >= ${setting(keepAlive)} and server.headersTimeout above it is a start, not a bound: check with keepalive-lab soak --proxy haproxy)`;
    return { text, nodeKeepAliveTimeoutMs: keepAlive, nodeHeadersTimeoutMs: headers, proxyKeepaliveTimeoutBelowMs: proxyBelow };
  }
  const text = `upstream closes idle connections at ${measured(input.upstreamCloseMs)}, ${input.proxyLabel} keeps them ${setting(input.proxyTimeoutMs)}: ` +
    `set server.keepAliveTimeout >= ${setting(keepAlive)} and server.headersTimeout above it (${setting(headers)}) in Node, or the upstream's idle timeout above ${setting(input.proxyTimeoutMs + 1000)} in any server; ` +
    (proxyBelow > 0 ? `or lower ${proxySetting}${block} to ${setting(proxyBelow)} or less` : `or turn off upstream keep-alive${block}`);
  return { text, nodeKeepAliveTimeoutMs: keepAlive, nodeHeadersTimeoutMs: headers, proxyKeepaliveTimeoutBelowMs: proxyBelow };
}
