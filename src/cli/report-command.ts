// `keepalive-lab report DIR`: rebuild every derived file of a run from its trials.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { isFieldHistory, type FieldHistoryRecord } from '../field/field-history.js';
import { fieldText, writeFieldOutputs } from '../field/field-report.js';
import { isGateHistory, type GateHistoryRecord } from '../gate/gate-history.js';
import { gateText } from '../gate/gate-report.js';
import { writeGateOutputs } from '../gate/gate-run-report.js';
import { readHistoryFile } from '../history/history-file.js';
import type { HistoryRecord } from '../history/records.js';
import { summaryTable } from '../report/summary-table.js';
import { HISTORY_FILE, writeRunOutputs } from '../report/write-outputs.js';
import { UsageError } from '../util/errors.js';
import { noteTornLine } from './torn-line.js';
import { forTerminal } from '../util/terminal-text.js';

export function reportCommand(): Command {
  return new Command('report')
    .description(`rebuild the summary and reports of a run (a sweep's, a gate's or a field run's) from its ${HISTORY_FILE}`)
    .argument('<dir>', 'run directory')
    .action(async (dir: string) => {
      try {
        await rebuild(dir);
      } catch (error) {
        // The records were checked as they were read (history/record-schemas.ts), down to the
        // top of a verdict; what deeper still does not hold is the history's fault, not a crash.
        if (error instanceof TypeError || error instanceof RangeError) {
          throw new UsageError(`${path.join(dir, HISTORY_FILE)}: its records do not hold what keepalive-lab writes (${error.message}): a run directory holds what keepalive-lab wrote`);
        }
        throw error;
      }
    });
}

/** Reads the history and writes the derived files of its kind of run. */
async function rebuild(dir: string): Promise<void> {
  const file = path.join(dir, HISTORY_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`${dir} has no ${HISTORY_FILE}: give the --out directory of a sweep or a gate`);
  // Read once: the history tells which kind of run it is, and its writer takes it as read.
  const records = readHistoryFile<GateHistoryRecord>(file, noteTornLine(file));
  if (isFieldHistory(records)) {
    const result = await writeFieldOutputs(dir, records as unknown as FieldHistoryRecord[]);
    process.stdout.write(`${result ? forTerminal(fieldText(result)) : 'no field-run record'}\nWrote ${dir}/{summary.json,report.md,report.html}\n`);
    return;
  }
  if (isGateHistory(records)) {
    const gate = await writeGateOutputs(dir, records);
    process.stdout.write(`${gate.result ? forTerminal(gateText(gate.result)) : `no verdict: the run ended after ${gate.trials.length} trials`}\nWrote ${dir}/{summary.json,report.md,report.html}\n`);
    return;
  }
  const analysis = await writeRunOutputs(dir, records as HistoryRecord[]);
  process.stdout.write(`${summaryTable(analysis.cells, analysis.merge)}\n`);
}
