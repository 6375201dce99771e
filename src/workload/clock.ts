// One clock for the harness and the upstream: epoch milliseconds from performance.timeOrigin,
// which is sub-millisecond and shared by processes on one machine (measured here: two Node
// processes agree within +-0.1 ms). Date.now() would put them up to a millisecond apart.
const HR_ANCHOR_NS = process.hrtime.bigint();
const EPOCH_ANCHOR_MS = performance.timeOrigin + performance.now();

/** The upstream program's response header: when it wrote the response, in epoch ms. */
export const SENT_AT_HEADER = 'x-keepalive-lab-sent-at';

export function hrToEpochMs(ns: bigint): number {
  return Math.round((EPOCH_ANCHOR_MS + Number(ns - HR_ANCHOR_NS) / 1e6) * 1000) / 1000;
}

export function epochMsToHr(epochMs: number): bigint {
  return HR_ANCHOR_NS + BigInt(Math.round((epochMs - EPOCH_ANCHOR_MS) * 1e6));
}

/**
 * When the answer in `headers` left the upstream, as hrtime: from the upstream's header when
 * it sent one (our upstream program does), else `receivedAtNs` (any other server).
 */
export function answerSentAt(headers: Record<string, string>, receivedAtNs: bigint): { ns: bigint; clock: 'upstream' | 'client' } {
  const stamp = Number(headers[SENT_AT_HEADER]);
  if (!headers[SENT_AT_HEADER] || !Number.isFinite(stamp)) return { ns: receivedAtNs, clock: 'client' };
  const ns = epochMsToHr(stamp);
  // A stamp after the receipt can only be clock skew; never let it lengthen a gap.
  return ns <= receivedAtNs ? { ns, clock: 'upstream' } : { ns: receivedAtNs, clock: 'upstream' };
}
