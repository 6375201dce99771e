import { describe, expect, it } from 'vitest';
import type { HistoryRecord } from '../../src/history/records.js';
import { assertSameSetup, assertSameUpstream, resumePlan } from '../../src/sweep/resume-plan.js';
import { pairKey, plannedTrialCount } from '../../src/workload/boundary-trials.js';

const run = { type: 'run', runtime: 'local', versions: { nginx: '1.22.1', node: 'v20.20.2' }, settings: { trials: 3, offsets: [-1, 0] } };
const trial = (cell: string, offset: number) => ({ type: 'trial', cell, boundary: 'upstream', intendedOffsetMs: offset });
const history = [
  run,
  { type: 'cell', id: 'A' }, trial('A', -1), trial('A', 0), { type: 'cell-end', cell: 'A', completed: true },
  { type: 'cell', id: 'B' }, trial('B', -1), trial('B', -1), trial('B', 0),
] as unknown as HistoryRecord[];

describe('resume plan', () => {
  it('completed cells are skipped; a partial cell keeps its trials per (boundary, offset)', () => {
    const plan = resumePlan(history, 'DIR');
    expect([...plan.completedCells]).toEqual(['A']);
    expect(plan.trialsDone.get('B')).toEqual({ [pairKey('upstream', -1)]: 2, [pairKey('upstream', 0)]: 1 });
    expect(plan.trialsDone.has('A')).toBe(false);
    expect(plan.config.trials).toBe(3);
    expect(plan.segment).toBe('r1');
    expect(resumePlan([...history, { type: 'resume' } as unknown as HistoryRecord], 'DIR').segment).toBe('r2');
  });

  it('fires only the missing trials', () => {
    const plan = resumePlan(history, 'DIR');
    expect(plannedTrialCount({ boundaries: [{ kind: 'upstream', atMs: 101 }], offsetsMs: [-1, 0], trialsPerOffset: 3, alreadyDone: plan.trialsDone.get('B') })).toBe(3);
  });

  it('refuses another runtime or another version of a component', () => {
    const plan = resumePlan(history, 'DIR');
    expect(() => assertSameSetup(plan, 'local', { nginx: '1.22.1', node: 'v20.20.2', extra: 'x' }, 'DIR')).not.toThrow();
    expect(() => assertSameSetup(plan, 'containers', {}, 'DIR')).toThrow(/measured on the local runtime, this one is containers/);
    expect(() => assertSameSetup(plan, 'local', { nginx: '1.26.0', node: 'v20.20.2' }, 'DIR')).toThrow(/nginx 1\.22\.1 -> 1\.26\.0/);
    // Another keepalive-lab would mix two versions in one cell (and the merge of its shards).
    const recorded = resumePlan([{ ...run, harness: '0.1.0' }, ...history.slice(1)] as unknown as HistoryRecord[], 'DIR');
    expect(() => assertSameSetup(recorded, 'local', {}, 'DIR', '0.1.0')).not.toThrow();
    expect(() => assertSameSetup(recorded, 'local', {}, 'DIR', '0.2.0')).toThrow(/started by keepalive-lab 0\.1\.0, this is 0\.2\.0/);
  });

  it('takes no program to run from the run directory (a crafted record names a script as nginx)', () => {
    const crafted = [{ ...run, settings: { ...run.settings, nginxBin: '/tmp/evil.sh', haproxyBin: '/tmp/evil.sh', toxiproxyBin: '/tmp/evil.sh' } }, ...history.slice(1)] as unknown as HistoryRecord[];
    const plan = resumePlan(crafted, 'DIR');
    const settings = plan.config as Record<string, unknown>;
    expect(settings.nginxBin).toBeUndefined();
    expect(settings.haproxyBin).toBeUndefined();
    expect(plan.config.toxiproxyBin).toBeUndefined();
    expect(plan.config.trials).toBe(3);
  });

  it('a history without a run record is not a sweep', () => {
    expect(() => resumePlan([], 'DIR')).toThrow(/no run record/);
  });
});

describe('resume of a cell under another upstream Node', () => {
  it('is refused; the same version, or none recorded, continues', () => {
    const plan = resumePlan([run, { type: 'cell', id: 'B', upstreamNodeVersion: 'v22.23.3' }, trial('B', -1)] as unknown as HistoryRecord[], 'DIR');
    expect(() => assertSameUpstream(plan, 'B', 'v22.24.0')).toThrow(/cell B was measured with upstream Node v22\.23\.3, this upstream runs v22\.24\.0/);
    expect(() => assertSameUpstream(plan, 'B', 'v22.23.3')).not.toThrow();
    expect(() => assertSameUpstream(plan, 'A', 'v22.24.0')).not.toThrow();
  });
});
