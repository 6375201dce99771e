// A sweep run whole and as 4 shards (one after another, then side by side as a Kubernetes
// Indexed Job starts them), merged: real nginx and Node upstreams, the CLI as users run it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHistoryFile } from '../src/history/history-file.js';
import type { HistoryRecord, TrialRecord } from '../src/history/records.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const REFERENCE = 'P60000-K100-exact-POST-default';
const MATRIX = ['--runtime', 'local', '--proxy-timeout', '60s,50ms', '--retry', 'default,off', '--methods', 'GET,POST', '--trials', '6', '--probe-samples', '10', '--no-progress'];
let tmp: string;

interface SummaryCell { id: string; trials: number; failures: number; failureRateCi95: number[]; windowWidth: { widthMs: number; widthMsCi95: number[] }[]; shard?: number; referenceOf?: string }
interface Summary { cells: SummaryCell[]; merge?: { partial: boolean; missing: number[]; count: number; shards: { shard: { index: number }; machine?: { cores: number } }[];
  shardAgreement: { cell: string; readings: { shard: number; trials: number }[]; agree: boolean | null; width: { pValue: number } | null }[] } }
const summaryOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
const dir = (name: string) => path.join(tmp, name);
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, ...env } });
/**
 * Each cell's aims in its planned blocks, sorted: what its schedule fired, whatever the order
 * the lanes took them in. Blocks the machine disturbed are fired again as new blocks (numbered
 * from the cell's `blocks` on), which a noisy moment adds to one run and not the other.
 */
const aimsOf = (history: readonly HistoryRecord[]) => {
  const aims = new Map<string, string[]>();
  const blocks = new Map(history.flatMap((record) => (record.type === 'cell' ? [[record.id, record.blocks ?? 1] as const] : [])));
  for (const record of history) {
    if (record.type !== 'trial' || (record.block ?? 0) >= blocks.get(record.cell)!) continue;
    const trial = record as TrialRecord;
    aims.set(trial.cell, [...(aims.get(trial.cell) ?? []), `${trial.boundary} ${trial.intendedOffsetMs} ${trial.aimOffsetMs} ${trial.block}`]);
  }
  for (const list of aims.values()) list.sort();
  return aims;
};

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-shards-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sweep --shard and merge', () => {
  it('4 shards, merged, hold the whole run\'s cells and trial counts, each cell fired on the same schedule as whole', () => {
    const whole = cli(['sweep', ...MATRIX, '--out', dir('whole')]);
    expect(whole.status, whole.stderr).toBe(0);
    for (let index = 1; index <= 4; index++) {
      const shard = cli(['sweep', ...MATRIX, '--shard', `${index}/4`, '--reference-cell', REFERENCE, '--out', dir(`shard-${index}`)]);
      expect(shard.status, shard.stderr).toBe(0);
      expect(shard.stderr).toMatch(new RegExp(`shard ${index}/4: 1 of the matrix's 4 topologies \\(2 cells\\), and the reference cell as ${REFERENCE}@shard${index}`));
      expect(JSON.parse(fs.readFileSync(path.join(dir(`shard-${index}`), 'shard.json'), 'utf8'))).toMatchObject({ shard: { index, count: 4 }, completed: true, referenceCell: REFERENCE });
    }
    const merged = cli(['merge', ...[4, 2, 3, 1].map((index) => dir(`shard-${index}`)), '--out', dir('merged')]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/Merged from 4 of 4 shards/);

    const wholeCells = summaryOf(dir('whole')).cells;
    const mergedSummary = summaryOf(dir('merged'));
    const own = mergedSummary.cells.filter((cell) => cell.referenceOf === undefined);
    expect(own.map((cell) => cell.id).sort()).toEqual(wholeCells.map((cell) => cell.id).sort());
    // Each cell's figures are its shard's, computed again from the records, not averaged.
    for (const cell of own) {
      const fromShard = summaryOf(dir(`shard-${cell.shard}`)).cells.find((candidate) => candidate.id === cell.id)!;
      expect({ ...cell, shard: undefined }).toEqual({ ...fromShard, shard: undefined });
    }
    // The same seed and key: each cell aimed its trials alike whole and sharded.
    const wholeAims = aimsOf(readHistoryFile(path.join(dir('whole'), 'trials.jsonl')));
    const mergedAims = aimsOf(readHistoryFile(path.join(dir('merged'), 'trials.jsonl')));
    for (const cell of wholeCells) {
      expect(wholeAims.get(cell.id)!.length, cell.id).toBe(cell.id.startsWith('P50-') ? 228 : 114);
      expect(mergedAims.get(cell.id), cell.id).toEqual(wholeAims.get(cell.id));
    }
    // Every shard's reference copy, compared.
    const agreement = mergedSummary.merge!.shardAgreement.find((entry) => entry.cell === REFERENCE)!;
    expect(agreement.readings.map((reading) => reading.shard)).toEqual([1, 2, 3, 4]);
    // The copies fire alone (the cell itself shares its lanes with GET): alike in every shard.
    for (const reading of agreement.readings) expect(mergedAims.get(`${REFERENCE}@shard${reading.shard}`)).toEqual(mergedAims.get(`${REFERENCE}@shard1`));
    const report = fs.readFileSync(path.join(dir('merged'), 'report.md'), 'utf8');
    expect(report).toMatch(/## Shards and their machines/);
    expect(report).toMatch(new RegExp(`Reference cell ${REFERENCE}, measured by 4 shards on the same schedule: (the shards agree|the shards DISAGREE|too few failures)`));
    expect(fs.readFileSync(path.join(dir('merged'), 'report.html'), 'utf8')).toMatch(/<th>shard · machine<\/th>/);
  }, 240_000);

  it('report on the merge writes the same bytes again, and explain tells a trial from its own shard', () => {
    const files = ['summary.json', 'summary.csv', 'report.md', 'report.html'];
    const before = files.map((file) => fs.readFileSync(path.join(dir('merged'), file)));
    const report = cli(['report', dir('merged')]);
    expect(report.status, report.stderr).toBe(0);
    files.forEach((file, i) => expect(fs.readFileSync(path.join(dir('merged'), file)).equals(before[i]!), file).toBe(true));
    const history = readHistoryFile(path.join(dir('merged'), 'trials.jsonl'));
    const failed = history.find((r): r is TrialRecord => r.type === 'trial' && r.errorClass !== 'ok' && r.shard === 3) ?? history.find((r): r is TrialRecord => r.type === 'trial' && r.shard === 3)!;
    const explained = cli(['explain', dir('merged'), '--trial', failed.id]);
    expect(explained.status, explained.stderr).toBe(0);
    expect(explained.stdout).toContain(`trial ${failed.id} (cell ${failed.cell}`);
  });

  it('refuses a shard twice, another sweep\'s shard, another version, a run that is no shard and a used --out; marks a missing shard partial', () => {
    const refused = (args: string[], pattern: RegExp) => {
      const result = cli(['merge', ...args]);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(pattern);
    };
    refused([dir('shard-1'), dir('shard-1'), '--out', dir('twice')], /shard 1\/4 is given twice .*: give each shard once/);
    // Another matrix: the same shard's history with one trial more per offset recorded.
    const crafted = (name: string, change: (text: string) => string) => {
      fs.mkdirSync(dir(name));
      fs.writeFileSync(path.join(dir(name), 'trials.jsonl'), change(fs.readFileSync(path.join(dir('shard-2'), 'trials.jsonl'), 'utf8')));
      return dir(name);
    };
    refused([dir('shard-1'), crafted('other-matrix', (text) => text.replace('"trials":6,', '"trials":7,')), '--out', dir('m1')], /is part of another sweep than .*give the shards of one sweep/);
    refused([dir('shard-1'), crafted('other-version', (text) => text.replace(/"harness":"[^"]+"/, '"harness":"0.0.1"')), '--out', dir('m2')], /was measured by keepalive-lab 0\.0\.1, .*run every shard with one version/);
    refused([dir('shard-1'), dir('whole'), '--out', dir('m3')], /is not a shard of a sweep .*sweep --shard I\/N/);
    refused([dir('shard-1'), '--out', dir('merged')], /already holds a run/);
    for (const name of ['twice', 'm1', 'm2', 'm3']) expect(fs.existsSync(dir(name)), name).toBe(false);

    const partial = cli(['merge', dir('shard-1'), dir('shard-2'), dir('shard-4'), '--out', dir('partial')]);
    expect(partial.status).toBe(1);
    expect(partial.stderr).toMatch(/the merge is partial: shard 3\/4 missing/);
    const summary = summaryOf(dir('partial'));
    expect(summary.merge).toMatchObject({ partial: true, missing: [3], count: 4 });
    expect(summary.cells.filter((cell) => cell.referenceOf === undefined)).toHaveLength(6);
    expect(fs.readFileSync(path.join(dir('partial'), 'report.md'), 'utf8')).toMatch(/PARTIAL: shard 3\/4 is missing/);
  });

  it('as an Indexed Job: 4 processes side by side read JOB_COMPLETION_INDEX, and the merge compares the machines on the reference cell', async () => {
    const runs = [0, 1, 2, 3].map((index) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'sweep', ...MATRIX, '--shard', 'auto/4', '--reference-cell', REFERENCE, '--out', dir(`pod-${index}`)],
        { env: { ...process.env, JOB_COMPLETION_INDEX: String(index) }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    }));
    const results = await Promise.all(runs);
    results.forEach((result, index) => {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`shard ${index + 1}/4:`);
    });
    const merged = cli(['merge', ...[0, 1, 2, 3].map((index) => dir(`pod-${index}`)), '--out', dir('pods')]);
    expect(merged.status, merged.stderr).toBe(0);
    const summary = summaryOf(dir('pods'));
    const agreement = summary.merge!.shardAgreement[0]!;
    expect(agreement.readings).toHaveLength(4);
    // Whatever it found, it says it: agree, disagree (naming the shard), or too little to tell.
    expect(merged.stdout).toMatch(new RegExp(`Reference cell ${REFERENCE}, measured by 4 shards`));
    const sequential = summaryOf(dir('merged'));
    const sideBySide = summary.cells.filter((cell) => cell.referenceOf === REFERENCE);
    // Each fired its plan; a block the crowded machine disturbed is fired again, so some hold more.
    const planned = 19 * 6; // 19 offsets x 6 trials at its one boundary
    for (const cell of sideBySide) expect(cell.trials).toBeGreaterThanOrEqual(planned);
    // Four sweeps on 2 cores load the machine more than one: every manifest measured it.
    const busy = (merged: Summary) => merged.merge!.shards.map((shard) => (shard as unknown as { load: { machineBusyShare: number } }).load.machineBusyShare);
    expect(Math.min(...busy(summary))).toBeGreaterThan(Math.max(...busy(sequential)));
  }, 240_000);
});
