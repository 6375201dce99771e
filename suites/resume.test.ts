// An interrupted sweep resumed with --resume ends with the cells an uninterrupted one has:
// every (boundary, offset) of every cell measured exactly --trials times, no more.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHistoryFile } from '../src/history/history-file.js';
import type { CellEndRecord, RunRecord, TrialRecord } from '../src/history/records.js';
import { setTimeout as delay } from 'node:timers/promises';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TRIALS = 20;
const ARGS = ['--runtime', 'local', '--proxy-timeout', '60s,50ms', '--methods', 'GET,POST', '--retry', 'off', '--trials', String(TRIALS), '--lanes', '16', '--no-progress'];
/** The cell the interruption lands in: the first of the second topology. */
const INTERRUPTED_CELL = 'P50-K100-exact-GET-off';
let tmp: string;

interface CellSummary { id: string; trials: number; completed: boolean }
const cellsOf = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { cells: CellSummary[] }).cells
  .map(({ id, trials, completed }) => ({ id, trials, completed }));
const trialsOf = (dir: string) => readHistoryFile(path.join(dir, 'trials.jsonl')).filter((r): r is TrialRecord => r.type === 'trial');

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-resume-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sweep --resume', () => {
  const whole = () => path.join(tmp, 'whole');
  const interrupted = () => path.join(tmp, 'interrupted');

  it('an interrupted sweep resumes, measures only what is missing, and ends with the same cells as an uninterrupted one', async () => {
    const uninterrupted = spawnSync(process.execPath, [CLI, 'sweep', ...ARGS, '--out', whole()], { encoding: 'utf8', timeout: 170_000 });
    expect(uninterrupted.status, uninterrupted.stderr).toBe(0);

    // Ctrl-C once the interrupted cell has some trials but not all.
    const child = spawn(process.execPath, [CLI, 'sweep', ...ARGS, '--out', interrupted()], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const historyPath = path.join(interrupted(), 'trials.jsonl');
    // Polled gently (the file grows to megabytes and the sweep is timing-sensitive).
    const marker = `"type":"trial","cell":"${INTERRUPTED_CELL}"`;
    const deadline = Date.now() + 120_000;
    while (!(fs.existsSync(historyPath) && fs.readFileSync(historyPath, 'utf8').split(marker).length > 50)) {
      if (Date.now() > deadline) throw new Error(`no trial of ${INTERRUPTED_CELL} within 120 s`);
      await delay(250);
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const before = readHistoryFile(historyPath);
    const partial = before.filter((r): r is TrialRecord => r.type === 'trial' && r.cell === INTERRUPTED_CELL).length;
    const completedBefore = before.filter((r): r is CellEndRecord => r.type === 'cell-end' && r.completed).map((r) => r.cell);
    // Cells fire in interleaved blocks: none ends before the last block, so every cell is partial.
    expect(completedBefore).toEqual([]);
    expect(partial).toBeGreaterThanOrEqual(50);

    const resumed = spawnSync(process.execPath, [CLI, 'sweep', '--resume', interrupted(), '--no-progress'], { encoding: 'utf8', timeout: 170_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resume: 0 cells complete, 4 to measure \([1-4] of them partly\)/);
    // The resumed blocks are new blocks: numbered from 1000, apart from the interrupted run's.
    const blocks = trialsOf(interrupted()).map((t) => t.block ?? -1);
    expect(blocks.some((block) => block >= 1000)).toBe(true);
    expect(blocks.every((block) => block >= 0 && (block < 100 || block >= 1000))).toBe(true);

    // The same cells, all complete. (Trial counts may differ: each run fires again the blocks the
    // machine disturbed, as many as it met.)
    const idsAndEnds = (dir: string) => cellsOf(dir).map(({ id, completed }) => ({ id, completed }));
    expect(idsAndEnds(interrupted())).toEqual(idsAndEnds(whole()));
    expect(cellsOf(interrupted()).every((cell) => cell.completed)).toBe(true);
    // Every (cell, boundary, offset) measured exactly TRIALS times across both segments, besides
    // the blocks fired again in place of disturbed ones (their block records say which).
    const refired = (dir: string) => new Set(readHistoryFile(path.join(dir, 'trials.jsonl')).flatMap((r) =>
      (r.type === 'block' && r.replaces !== undefined ? r.cells.map((cell) => `${cell} ${r.block}`) : [])));
    const counts = (dir: string) => {
      const map = new Map<string, number>();
      const again = refired(dir);
      for (const t of trialsOf(dir)) {
        if (again.has(`${t.cell} ${t.block}`)) continue;
        map.set(`${t.cell} ${t.boundary} ${t.intendedOffsetMs}`, (map.get(`${t.cell} ${t.boundary} ${t.intendedOffsetMs}`) ?? 0) + 1);
      }
      return map;
    };
    const resumedCounts = counts(interrupted());
    expect([...resumedCounts.entries()].filter(([, n]) => n !== TRIALS)).toEqual([]);
    expect([...resumedCounts.keys()].sort()).toEqual([...counts(whole()).keys()].sort());
    // The partial cell's first trials were kept, the rest measured by the resume segment.
    const ids = trialsOf(interrupted()).filter((t) => t.cell === INTERRUPTED_CELL).map((t) => t.id);
    expect(ids.filter((id) => id.startsWith('c')).length).toBe(partial);
    expect(ids.filter((id) => id.startsWith('r1c')).length).toBe(ids.length - partial);
  });

  it('refuses a changed setup, and setting flags beside --resume: one line, exit 2', () => {
    const changed = path.join(tmp, 'changed');
    fs.mkdirSync(changed);
    const lines = fs.readFileSync(path.join(interrupted(), 'trials.jsonl'), 'utf8').split('\n');
    const runLine = lines.findIndex((line) => line.includes('"type":"run"'));
    const run = JSON.parse(lines[runLine]!) as RunRecord;
    lines[runLine] = JSON.stringify({ ...run, versions: { ...run.versions, nginx: '0.0.1' } });
    fs.writeFileSync(path.join(changed, 'trials.jsonl'), lines.join('\n'));
    const refused = spawnSync(process.execPath, [CLI, 'sweep', '--resume', changed, '--no-progress'], { encoding: 'utf8' });
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/the setup changed since the run started \(nginx 0\.0\.1 -> \d/);

    const withFlags = spawnSync(process.execPath, [CLI, 'sweep', '--resume', changed, '--lanes', '4'], { encoding: 'utf8' });
    expect(withFlags.status).toBe(2);
    expect(withFlags.stderr).toMatch(/--resume takes every setting from the run .*; drop --lanes/);
  });
});
