// `keepalive-lab field`: is the keep-alive race behind the 502s of a stack already deployed?
// Aimed idle gaps against one URL; exit 0 no race seen (with its bound), 1 race seen (or a run
// stopped before it could tell), 2 bad input.
import path from 'node:path';
import { Command } from 'commander';
import { planText } from '../field/field-plan.js';
import { fieldJson, fieldText } from '../field/field-report.js';
import { FIELD_DEFAULTS, prepareField, runField, type FieldOptions } from '../field/run-field.js';
import { UsageError } from '../util/errors.js';
import { positiveInt, positiveNumber } from './parse-number.js';
import { forTerminal } from '../util/terminal-text.js';

interface FieldFlags {
  url: string;
  idle: string;
  method: string;
  header: string[];
  body?: string;
  ca?: string;
  group: string;
  rate: string;
  maxRequests: string;
  maxSeconds: string;
  seed: string;
  out?: string;
  record?: boolean;
  json?: boolean;
  dryRun?: boolean;
}

export function fieldCommand(): Command {
  return new Command('field')
    .description('field mode: aimed idle gaps against a deployed stack (load balancer -> upstream) you did not start; exit 0 no race seen, 1 race seen, 2 bad input')
    .requiredOption('--url <url>', 'the one URL requests go to (http:// or https://), e.g. https://staging.example/health')
    .option('--idle <range>', 'idle gaps to aim at: FROM..TO@STEP (e.g. 4s..8s@100ms), or auto (around the closes of common upstreams\' defaults)', 'auto')
    .option('--method <method>', 'request method (a load balancer may retry GET and hide the race: a harmless POST shows it)', FIELD_DEFAULTS.method)
    .option('--header <Name: value>', 'a request header (repeat for several); values are not written to the run directory', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--body <text>', 'request body (Content-Type application/json unless --header says)')
    .option('--ca <file>', 'extra CA certificates (PEM) to trust for an https:// URL')
    .option('--group <n>', 'requests sent at once in each group (the rate cap may lower it)', String(FIELD_DEFAULTS.group))
    .option('--rate <n>', 'requests per second at most', String(FIELD_DEFAULTS.rate))
    .option('--max-requests <n>', 'request budget of the run', String(FIELD_DEFAULTS.maxRequests))
    .option('--max-seconds <n>', 'time budget of the run', String(FIELD_DEFAULTS.maxSeconds))
    .option('--seed <n>', 'seed of the gap order', String(FIELD_DEFAULTS.seed))
    .option('--out <dir>', 'run directory for trials.jsonl, summary.json, report.md, report.html (default runs/field-<time>)')
    .option('--no-record', 'write no run directory')
    .option('--json', 'print the result as JSON')
    .option('--dry-run', 'print the plan and its request count, and send nothing')
    .action(async (flags: FieldFlags) => {
      const options = fieldOptionsFromFlags(flags);
      const { target, plan } = prepareField(options);
      if (flags.dryRun) {
        process.stdout.write(`${planText(plan, `${target.method} ${target.url}`)}\nnothing was sent (--dry-run)\n`);
        return;
      }
      const result = await runField({ ...options, onProgress: (line) => process.stderr.write(`field: ${forTerminal(line)}\n`) });
      process.stdout.write(`${flags.json ? fieldJson(result) : forTerminal(fieldText(result))}\n`);
      if (options.out) process.stderr.write(`field: run directory ${options.out} (report.html: the gap curve)\n`);
      process.exitCode = result.outcome === 'none' ? 0 : 1;
    });
}

function fieldOptionsFromFlags(flags: FieldFlags): FieldOptions {
  if (flags.record === false && flags.out !== undefined) throw new UsageError('--out and --no-record disagree: give one');
  const out = flags.record === false ? null : flags.out ?? (flags.dryRun ? null : path.join('runs', `field-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  return {
    url: flags.url, idle: flags.idle, method: flags.method, headers: flags.header,
    ...(flags.body !== undefined ? { body: flags.body } : {}), ...(flags.ca !== undefined ? { caFile: flags.ca } : {}),
    group: positiveInt(flags.group, '--group'), rate: positiveNumber(flags.rate, '--rate'), maxRequests: positiveInt(flags.maxRequests, '--max-requests'),
    maxSeconds: positiveNumber(flags.maxSeconds, '--max-seconds'), seed: positiveInt(flags.seed, '--seed'), out,
  };
}
