// The trials of a cell's quiet blocks: a claim about where the race is (near the close, none far
// from it) is about the pairing, and a block the machine disturbed (the harness off its aims in
// over 25% of its trials, analysis/disturbance.ts) fails far from the close for the machine's
// sake: 6 of 600 far trials in one CI run with 27% of the CPU stolen by the hypervisor.
import { binTrials, type CellAnalysis, type GapBin, type SweepResult } from '../../src/index.js';
import type { TrialRecord } from '../../src/history/records.js';

/** The blocks the harness left out of the cell's W (none when every block was disturbed). */
export function leftOutBlocks(cell: CellAnalysis): Set<number> {
  return new Set(cell.windowWidth.flatMap((width) => width.excludedBlocks.map((block) => block.block)));
}

/** The cell's trials, and those of the blocks the machine left quiet. */
export function cellTrials(result: SweepResult, cell: CellAnalysis): { all: TrialRecord[]; quiet: TrialRecord[] } {
  const leftOut = leftOutBlocks(cell);
  const all = result.history.filter((r): r is TrialRecord => r.type === 'trial' && r.cell === cell.id);
  return { all, quiet: all.filter((trial) => !leftOut.has(trial.block ?? 0)) };
}

/** The quiet trials' bins, each with its failed attempts in the proxy's error log (bin.failedAttempts). */
export function quietBins(result: SweepResult, cell: CellAnalysis): GapBin[] {
  const logged = new Set(result.history.flatMap((r) => (r.type === 'proxy-log' && r.trial ? [r.trial] : [])));
  return binTrials(cellTrials(result, cell).quiet, 0.95, (trial) => logged.has(trial.id));
}

/** Whether the harness said most of the cell's blocks were disturbed (then no claim about the pairing holds). */
export function mostlyDisturbed(cell: CellAnalysis): boolean {
  return cell.windowWidth.some((width) => width.disturbed);
}
