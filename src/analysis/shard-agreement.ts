// Whether the machines of a sharded sweep measured alike: every shard fired the same reference
// cell on the same schedule (`--reference-cell`), so its copies differ by chance and by the
// machine alone. Pooling shards blindly would hide exactly that machine effect; this says it.
import { chiSquareSurvival, zForConfidence } from '../util/stats.js';
import type { CellAnalysis } from './analyze-history.js';

export interface ShardReading {
  shard: number;
  cellId: string;
  trials: number;
  failures: number;
  /** The failure rate's interval, widened by the cell's own spread between blocks. */
  failureRateCi95: [number, number];
  /** W at the reference cell's first boundary (null: no trials there). */
  widthMs: number | null;
  widthMsCi95: [number, number] | null;
  /** The machine disturbed most of its blocks: W is the machine's as much as the pairing's. */
  disturbed: boolean;
  /** Its W differs from the others' beyond chance (|z| past the Bonferroni bound for k shards). */
  flagged: boolean;
}

export interface ShardAgreement {
  /** The reference cell's id. */
  cell: string;
  readings: ShardReading[];
  /** Cochran's Q of the shards' W around their inverse-variance mean (null: fewer than two with a W that varies). */
  width: { pooledMs: number; pooledMsCi95: [number, number]; q: number; df: number; pValue: number } | null;
  /** Pearson's chi-square of equal failure rates, on each shard's counts shrunk by its block dispersion. */
  rate: { chiSquare: number; df: number; pValue: number } | null;
  /** true: the shards' W agree at 5%; false: they do not (see `flagged`); null: too little to tell. */
  agree: boolean | null;
}

const ALPHA = 0.05;

export function shardAgreements(cells: readonly CellAnalysis[]): ShardAgreement[] {
  const copies = new Map<string, CellAnalysis[]>();
  for (const cell of cells) {
    if (cell.referenceOf === undefined || cell.shard === undefined) continue;
    copies.set(cell.referenceOf, [...(copies.get(cell.referenceOf) ?? []), cell]);
  }
  return [...copies.entries()].map(([id, list]) => agreementOf(id, [...list].sort((a, b) => a.shard! - b.shard!)));
}

function agreementOf(cell: string, copies: readonly CellAnalysis[]): ShardAgreement {
  const widths = copies.map((copy) => copy.windowWidth[0] ?? null);
  const informative = widths.flatMap((width, i) => (width && width.standardErrorMs > 0 ? [{ i, w: width.widthMs, se: width.standardErrorMs }] : []));
  let width: ShardAgreement['width'] = null;
  const flagged = new Set<number>();
  if (informative.length >= 2) {
    const weights = informative.map(({ se }) => 1 / se ** 2);
    const pooledMs = informative.reduce((sum, { w }, j) => sum + w * weights[j]!, 0) / weights.reduce((a, b) => a + b, 0);
    const q = informative.reduce((sum, { w, se }) => sum + ((w - pooledMs) / se) ** 2, 0);
    const df = informative.length - 1;
    // The pooled W's interval from the copies' errors, widened by sqrt(Q/df) when they spread
    // more than their errors say (the random-effects reading of Q): one machine's noise must
    // not make the pool look surer than its copies.
    const halfWidth = zForConfidence(0.95) * Math.sqrt(Math.max(1, q / df) / weights.reduce((a, b) => a + b, 0));
    width = { pooledMs: round(pooledMs), pooledMsCi95: [round(Math.max(0, pooledMs - halfWidth)), round(pooledMs + halfWidth)], q: round(q), df, pValue: round(chiSquareSurvival(q, df)) };
    // Which shard stands out: its own z against the pooled W, two-sided, Bonferroni over k.
    const bound = zForConfidence(1 - ALPHA / informative.length);
    for (const { i, w, se } of informative) if (Math.abs(w - pooledMs) / se > bound) flagged.add(i);
  }
  return {
    cell,
    readings: copies.map((copy, i) => ({
      shard: copy.shard!, cellId: copy.id, trials: copy.trials, failures: copy.failures, failureRateCi95: copy.failureRateCi95,
      widthMs: widths[i]?.widthMs ?? null, widthMsCi95: widths[i]?.widthMsCi95 ?? null, disturbed: widths[i]?.disturbed ?? false, flagged: flagged.has(i),
    })),
    width,
    rate: rateTest(copies),
    agree: width === null ? null : width.pValue >= ALPHA,
  };
}

/** Pearson's chi-square for a k x 2 table of failures and successes (counts over each copy's dispersion). */
function rateTest(copies: readonly CellAnalysis[]): ShardAgreement['rate'] {
  const rows = copies.filter((copy) => copy.trials > 0).map((copy) => ({ n: copy.trials / copy.rateDispersion, f: copy.failures / copy.rateDispersion }));
  const n = rows.reduce((sum, row) => sum + row.n, 0);
  const f = rows.reduce((sum, row) => sum + row.f, 0);
  if (rows.length < 2 || f === 0 || f === n) return null;
  const p = f / n;
  const chiSquare = rows.reduce((sum, row) => sum + (row.f - row.n * p) ** 2 / (row.n * p * (1 - p)), 0);
  const df = rows.length - 1;
  return { chiSquare: round(chiSquare), df, pValue: round(chiSquareSurvival(chiSquare, df)) };
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

