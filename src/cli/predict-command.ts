// `keepalive-lab predict DIR --rate 50/s`: a run's measured window turned into the failures to
// expect at a production traffic, per million requests and per day, and their curve over rates.
import { Command } from 'commander';
import { predictRun } from '../predict/predict-run.js';
import { cellLabel, curveTable, MODEL_ASSUMPTIONS, peakText, predictionSentence, predictionTable } from '../report/prediction-text.js';
import { parseTraffic, trafficText } from '../scenario/traffic.js';
import { UsageError } from '../util/errors.js';
import { forTerminal } from '../util/terminal-text.js';
import { positiveInt, positiveNumber } from './parse-number.js';

interface PredictFlags {
  rate?: string;
  pool?: string;
  workers?: string;
  answerMs?: string;
  cell?: string;
  curve?: boolean;
  json?: boolean;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('expected failures per million requests and per day at a traffic, from the window a sweep or a gate measured (a model of the proxy\'s pool under Poisson arrivals)')
    .argument('<dir>', 'a sweep\'s or a gate\'s run directory')
    .option('--rate <traffic>', 'requests per second at the proxy: 50/s, 3000/min, 1.7M/day, or a day\'s profile 20/s:8h,200/s:16h')
    .option('--pool <n>', 'idle upstream connections each worker keeps (nginx keepalive N) (default: the gate\'s config\'s, else 32)')
    .option('--workers <n>', 'proxy worker processes the traffic is spread over (default 1)')
    .option('--answer-ms <ms>', 'how long a request holds its upstream connection (default: the cell\'s median answer time)')
    .option('--cell <id>', 'one cell (default: every cell; the worst one is the one to plan for)')
    .option('--curve', 'also print the curve of expected failures against the request rate')
    .option('--json', 'print the prediction as JSON (failuresPerMillion, failuresPerMillionCi95, failuresPerDay, and per cell)')
    .action((dir: string, flags: PredictFlags) => {
      if (flags.rate === undefined) throw new UsageError('predict: give --rate, the traffic at the proxy, e.g. --rate 50/s');
      const traffic = parseTraffic(flags.rate, '--rate');
      const options = {
        rate: traffic,
        ...(flags.pool !== undefined ? { pool: positiveInt(flags.pool, '--pool') } : {}),
        ...(flags.workers !== undefined ? { workers: positiveInt(flags.workers, '--workers') } : {}),
        ...(flags.answerMs !== undefined ? { answerMs: positiveNumber(flags.answerMs, '--answer-ms') } : {}),
        ...(flags.cell !== undefined ? { cell: flags.cell } : {}),
        curve: true,
      };
      const run = predictRun(dir, options);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        return;
      }
      const label = trafficText(traffic);
      const lines = [predictionTable(run), ''];
      for (const cell of run.cells) {
        if (cell.noUpstreamClose !== null) {
          lines.push(`${cellLabel(cell)}: none: ${cell.noUpstreamClose}.`);
          continue;
        }
        lines.push(`${cellLabel(cell)}: ${predictionSentence(cell, label)}.`);
        if (cell.curve) {
          lines.push(`  ${peakText(cell.curve)}`);
          if (flags.curve) lines.push('', curveTable(cell.curve), '');
        }
      }
      lines.push('', MODEL_ASSUMPTIONS);
      process.stdout.write(`${forTerminal(lines.join('\n'))}\n`);
    });
}
