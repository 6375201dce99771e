// One clock for the harness and the upstream: process.hrtime, which is CLOCK_MONOTONIC and so
// shared by every process on the machine (and by containers on it). History times are this
// clock in milliseconds. performance.timeOrigin is not shared: two Node processes here
// disagreed by 1.2 ms, enough to move a 2 ms window.

/** The upstream program's response header: hrtime (ns) when it wrote the response. */
export const SENT_AT_HEADER = 'x-keepalive-lab-sent-ns';

export function monotonicMs(ns: bigint = process.hrtime.bigint()): number {
  return Math.round(Number(ns) / 1000) / 1000;
}

/**
 * When the answer in `headers` left the upstream, as hrtime: from the upstream's header when
 * it sent one (our upstream program does), else `receivedAtNs` (any other server).
 */
export function answerSentAt(headers: Record<string, string>, receivedAtNs: bigint): { ns: bigint; clock: 'upstream' | 'client' } {
  const stamp = headers[SENT_AT_HEADER];
  if (!stamp || !/^\d+$/.test(stamp)) return { ns: receivedAtNs, clock: 'client' };
  const ns = BigInt(stamp);
  // A stamp after the receipt cannot be (one clock): never let it lengthen a gap.
  return { ns: ns <= receivedAtNs ? ns : receivedAtNs, clock: 'upstream' };
}
