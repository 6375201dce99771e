// `keepalive-lab gate`: a deploy gate on the user's own proxy config and upstream. Exit 0 pass,
// 1 fail (unsafe, or undecided within the time budget), 2 bad input.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { GATE_FLAG_LIST, gateFlagKey } from '../gate/gate-flags.js';
import { parseGateInput, type GateInputFields } from '../gate/gate-input.js';
import { gateJson, gateText, writeGateJunit } from '../gate/gate-report.js';
import { runGate, type GateOptions } from '../gate/run-gate.js';
import { UsageError } from '../util/errors.js';
import { forTerminal } from '../util/terminal-text.js';

/** The command's own flags; each setting flag is in gate/gate-flags.ts, keyed by commander's name for it. */
interface GateFlags {
  [setting: string]: unknown;
  junit?: string;
  json?: boolean;
  record?: boolean;
}

export function gateCommand(): Command {
  const command = new Command('gate')
    .description('deploy gate: your proxy config in front of your upstream, bursts at the keep-alive boundary that decides; exit 0 safe, 1 unsafe, 2 bad input');
  for (const flag of GATE_FLAG_LIST) {
    if (flag.repeat) command.option(flag.option, flag.help, (value: string, all: string[]) => [...all, value], [] as string[]);
    else command.option(flag.option, flag.help, flag.shownDefault);
  }
  return command
    .option('--no-record', 'write no run directory')
    .option('--junit <file>', 'also write a JUnit XML report')
    .option('--json', 'print the result as JSON')
    .action(async (flags: GateFlags) => {
      const options = gateOptionsFromFlags(flags);
      if (flags.junit) checkJunitPath(flags.junit);
      const result = await runGate({ ...options, onProgress: (line) => process.stderr.write(`gate: ${forTerminal(line)}\n`) });
      process.stdout.write(`${flags.json ? gateJson(result) : forTerminal(gateText(result))}\n`);
      if (flags.junit) writeGateJunit(result, flags.junit);
      process.exitCode = result.outcome === 'pass' ? 0 : 1;
    });
}

/** The JUnit file is written after the run: where it goes is checked before anything starts. */
function checkJunitPath(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--junit ${file}: the directory ${path.dirname(file)} does not exist: create it, or give another path`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`--junit ${file}: is a directory: give a file name`);
}

/** The flags as the gate's input (its one schema validates them: gate-input.ts). */
export function gateOptionsFromFlags(flags: GateFlags): Omit<GateOptions, 'onProgress'> {
  const input: GateInputFields = {};
  // Unset flags stay out, so that the schema's defaults apply.
  for (const flag of GATE_FLAG_LIST) {
    const value = flags[gateFlagKey(flag)];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) input[flag.field] = value;
  }
  if (Array.isArray(input.upstreamEnv)) input.upstreamEnv = envOf(input.upstreamEnv as string[]);
  if (flags.record === false && input.out !== undefined) throw new UsageError('--out and --no-record disagree: give one');
  // Like a sweep, a run keeps its history by default, in a directory named by its start.
  if (flags.record !== false) input.out ??= path.join('runs', `gate-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  return parseGateInput(input, 'flags');
}

function envOf(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--upstream-env: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}
