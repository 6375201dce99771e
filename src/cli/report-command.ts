// `keepalive-lab report DIR`: rebuild every derived file of a run from its trials.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { summaryTable } from '../report/summary-table.js';
import { HISTORY_FILE, writeRunOutputs } from '../report/write-outputs.js';
import { UsageError } from '../util/errors.js';

export function reportCommand(): Command {
  return new Command('report')
    .description(`rebuild summary.json, summary.csv, report.md and report.html of a run from its ${HISTORY_FILE}`)
    .argument('<dir>', 'run directory')
    .action(async (dir: string) => {
      if (!fs.existsSync(path.join(dir, HISTORY_FILE))) throw new UsageError(`${dir} has no ${HISTORY_FILE}: give the --out directory of a sweep`);
      const analysis = await writeRunOutputs(dir);
      process.stdout.write(`${summaryTable(analysis.cells)}\n`);
    });
}
