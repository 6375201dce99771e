// The window's width W and the load it was measured under, in words: one text for the summary
// table, report.md, report.html and the matchers' evidence.
import type { CellAnalysis } from '../analysis/analyze-history.js';
import type { WindowWidth } from '../analysis/window-width.js';
import { percent } from './format.js';
import { DISTURBED_OFF_TARGET } from '../analysis/disturbance.js';
import { DEFAULT_LANES } from '../scenario/sweep-config.js';

export const ms = (value: number) => value.toFixed(3);

/** `0.295 [0.232, 0.374]`: W with its 95% interval, in ms. */
export function widthWithInterval(width: WindowWidth): string {
  return `${ms(width.widthMs)} [${ms(width.widthMsCi95[0])}, ${ms(width.widthMsCi95[1])}]`;
}

/**
 * The table's W column: each boundary where something failed, else the upper bound of the
 * widest. One boundary is named only when a cell has several.
 */
export function widthColumn(cell: CellAnalysis): string {
  const widths = cell.windowWidth;
  if (widths.length === 0) return '-';
  const failing = widths.filter((width) => width.widthMs > 0);
  if (failing.length === 0) return `< ${ms(Math.max(...widths.map((width) => width.widthMsCi95[1])))}`;
  // A window that reaches the edge of the aimed strata may go on past it: W is then at least this.
  return failing.map((width) => `${widths.length > 1 ? `${width.boundary} ` : ''}${width.cutAt.length > 0 ? '>= ' : ''}${widthWithInterval(width)}${width.disturbed ? ' (disturbed)' : ''}`).join('; ');
}

/** A sentence per boundary: W, what it was measured over, and what its interval covers. */
export function widthSentences(cell: CellAnalysis): string[] {
  return cell.windowWidth.map((width) => {
    const over = `over ${width.spanMs} ms of aimed gap (${width.strata} strata)`;
    const spread = width.blocks > 1 ? `, from ${width.blocks} randomized blocks (dispersion ${width.dispersion.toFixed(2)}: the interval covers their spread)` : ', from one block';
    const cut = width.cutAt.length > 0 ? `. Failures reach the ${width.cutAt.join(' and ')} edge of the aimed strata: the window may go on past them, so W is a lower bound (widen --offsets on that side)` : '';
    const left = width.excludedBlocks.length === 0 ? '' : `. Left out: ${width.excludedBlocks.length} block${width.excludedBlocks.length === 1 ? '' : 's'} the machine disturbed ` +
      `(${width.excludedBlocks.map((block) => percent(block.offTarget, 0)).join(', ')} of their trials off their stratum, over ${percent(DISTURBED_OFF_TARGET, 0)})`;
    const disturbed = !width.disturbed ? '' : `. ${width.excludedBlocks.length === 0 ? 'Every block was disturbed' : 'Most blocks were disturbed'} (over ${percent(DISTURBED_OFF_TARGET, 0)} of their trials off their stratum): this W is the machine's as much as the pairing's; measure again on a quieter machine`;
    const aim = width.aim === 'points' ? '. This run aimed at the offsets themselves (made before strata): its W depends on where those points fell against the window' : '';
    return `Window width W at the ${width.boundary} boundary: ${widthWithInterval(width)} ms of certain failure ${over}${spread}${left}${disturbed}${cut}${aim}.`;
  });
}

/** The harness's own load while the cell fired, and how well it hit its aims. */
export function loadSentence(cell: CellAnalysis): string | null {
  const parts: string[] = [];
  if (cell.load) {
    const cpu = [cell.load.proxyCpuShare !== undefined ? `proxy CPU ${percent(cell.load.proxyCpuShare, 1)} of a core` : null,
      cell.load.upstreamCpuShare !== undefined ? `upstream ${percent(cell.load.upstreamCpuShare, 1)}` : null,
      cell.load.machineBusyShare !== undefined ? `machine ${percent(cell.load.machineBusyShare, 0)} busy` : null,
      cell.load.machineStealShare ? `${percent(cell.load.machineStealShare, 1)} stolen by the hypervisor` : null].filter(Boolean).join(', ');
    parts.push(`${cell.load.lanes} lanes, ${cell.load.seconds.toFixed(1)} s of firing${cpu ? `; ${cpu}` : ''}`);
  }
  if (cell.lateness) {
    parts.push(`lateness (measured gap - aim) p1 ${ms(cell.lateness.p1Ms)}, p50 ${ms(cell.lateness.p50Ms)}, p99 ${ms(cell.lateness.p99Ms)} ms; ${percent(cell.lateness.offTarget, 1)} of trials off their stratum`);
  }
  return parts.length === 0 ? null : `Load: ${parts.join('; ')}.`;
}

/**
 * The run's load, and why: the lanes it fired with, and whether that was the default (chosen
 * from a measurement) or the user's. Lanes come from the run's recorded settings.
 */
export function runLoadSentence(settings: Record<string, unknown> | undefined): string {
  const lanes = settings?.lanes;
  if (typeof lanes !== 'number') return '';
  const why = lanes === DEFAULT_LANES
    ? `the default: the most lanes at which the window's width W stayed within 15% of its width at the lowest load measured (docs/measurement.md)`
    : lanes > DEFAULT_LANES
      ? `given; above ${DEFAULT_LANES} the harness's own load widened the window it measured (W 0.26 ms at 16 lanes, 0.33-0.39 at 32, 0.8 at 128 behind nginx 60 s here)`
      : 'given';
  return `Load: ${lanes} lanes (${why}). W is the window's width in ms of certain failure, the sum over the offsets' strata of failure rate x stratum width: it does not depend on the offsets; the rate per aimed request does.`;
}
