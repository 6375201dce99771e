// What the window-width matchers decide, as pure functions (unit-tested without vitest's expect).
import type { CellAnalysis } from '../analysis/analyze-history.js';
import type { WindowWidth } from '../analysis/window-width.js';
import { zForConfidence } from '../util/stats.js';
import type { BoundaryKind } from '../vocabulary.js';

export interface WidthOptions {
  /** Which boundary's W (default: the cell's first, the close that comes first). */
  boundary?: BoundaryKind;
}

export function boundaryWidth(cell: CellAnalysis, options: WidthOptions = {}): WindowWidth {
  const boundary = options.boundary ?? cell.boundaries[0]?.kind ?? 'upstream';
  const width = cell.windowWidth.find((candidate) => candidate.boundary === boundary);
  if (!width) throw new Error(`${cell.id} has no trials at the ${boundary} boundary (it has: ${cell.windowWidth.map((w) => w.boundary).join(', ') || 'none'})`);
  return width;
}

/**
 * Whether two cells' W agree: their difference within z x its standard error, each W's error
 * from its counts and its blocks' dispersion. At 0.999 two cells that measure one thing are
 * called different once in 1,000 runs, so a suite can assert agreement every run.
 */
export function widthsAgree(a: CellAnalysis, b: CellAnalysis, options: WidthOptions & { confidence?: number } = {}): { agree: boolean; describe: string } {
  const confidence = options.confidence ?? 0.999;
  const [wa, wb] = [boundaryWidth(a, options), boundaryWidth(b, options)];
  const difference = wa.widthMs - wb.widthMs;
  const standardError = Math.hypot(wa.standardErrorMs, wb.standardErrorMs);
  const z = zForConfidence(confidence);
  const allowed = z * standardError;
  return {
    agree: Math.abs(difference) <= allowed,
    describe: `W ${wa.widthMs.toFixed(3)} vs ${wb.widthMs.toFixed(3)} ms: difference ${difference.toFixed(3)} ms, allowed +-${allowed.toFixed(3)} ms ` +
      `(${(confidence * 100).toFixed(1)}%: ${z.toFixed(2)} x standard error ${standardError.toFixed(3)} ms)`,
  };
}
