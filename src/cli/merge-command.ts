// `keepalive-lab merge DIR... --out DIR`: the shards of one sweep as one run directory.
import { Command } from 'commander';
import { mergeRuns } from '../merge/merge-runs.js';
import { shardAgreements } from '../analysis/shard-agreement.js';
import { agreementSentence, mergeSentence } from '../report/shard-text.js';
import { summaryTable } from '../report/summary-table.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { UsageError } from '../util/errors.js';
import { forTerminal } from '../util/terminal-text.js';
import { noteTornLine } from './torn-line.js';

export function mergeCommand(): Command {
  return new Command('merge')
    .description('merge the run directories of a sharded sweep (sweep --shard I/N) into one: every interval recomputed from the pooled records, each cell with its shard and machine; a merge with shards missing is marked partial (exit 1)')
    .argument('<dirs...>', 'the shards\' run directories')
    .option('--out <dir>', 'the merged run directory (new)')
    .action(async (dirs: string[], flags: { out?: string }) => {
      if (!flags.out) throw new UsageError('merge: give --out DIR, a new directory for the merged run');
      const { analysis, merge } = await mergeRuns({ dirs, out: flags.out, onTornLine: (file, line) => noteTornLine(file)(line) });
      const agreements = shardAgreements(analysis.cells).map(agreementSentence);
      process.stdout.write(`${forTerminal(summaryTable(analysis.cells, merge))}\n\n${forTerminal([mergeSentence(merge), ...agreements].join('\n'))}\n` +
        `Wrote ${flags.out}/{${HISTORY_FILE},summary.json,summary.csv,report.md,report.html}\n`);
      // A partial merge is a result, kept; but not the whole sweep, so a pipeline must not pass it.
      if (merge.missing.length > 0) {
        process.stderr.write(`keepalive-lab: the merge is partial: shard${merge.missing.length > 1 ? 's' : ''} ${merge.missing.map((index) => `${index}/${merge.count}`).join(', ')} missing (written to ${flags.out}, marked partial)\n`);
        process.exitCode = 1;
      }
    });
}
