// `keepalive-lab gate`: a deploy gate on the user's own proxy config and upstream. Exit 0 pass,
// 1 fail (unsafe, or undecided within the time budget), 2 bad input.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { GATE_DEFAULTS, parseGateInput, type GateInputFields } from '../gate/gate-input.js';
import { gateJson, gateText, writeGateJunit } from '../gate/gate-report.js';
import { runGate, type GateOptions } from '../gate/run-gate.js';
import { gateFlavour } from '../gate/gate-proxy.js';
import { DEFAULT_PROXY, proxyFlavours } from '../proxy/registry.js';
import { UsageError } from '../util/errors.js';

/** The flags; each gate flavour adds its own (its config, its pool, its binary), named by its settings. */
interface GateFlags {
  [flavourSetting: string]: unknown;
  proxy: string;
  proxyTimeout?: string;
  retry?: string;
  upstreamCmd?: string;
  upstreamUrl?: string;
  upstreamImage?: string;
  upstreamPort?: string;
  upstreamEnv: string[];
  healthPath: string;
  method: string;
  body?: string;
  maxFailureRate: string;
  confidence: string;
  fault: string[];
  burst?: string;
  maxSeconds: string;
  maxIdleWait: string;
  minMargin: string;
  seed: string;
  allowMasked?: boolean;
  junit?: string;
  json?: boolean;
  out?: string;
  record?: boolean;
}

/** The proxy flavours the gate runs (src/proxy/registry.ts), each with its own flags. */
const GATE_FLAVOURS = proxyFlavours().filter((flavour) => flavour.gate).map(gateFlavour);

export function gateCommand(): Command {
  const command = new Command('gate')
    .description('deploy gate: your proxy config in front of your upstream, bursts at the keep-alive boundary that decides; exit 0 safe, 1 unsafe, 2 bad input')
    .option('--proxy <flavour>', GATE_FLAVOURS.map((flavour) => flavour.name).join(' or '), DEFAULT_PROXY);
  for (const { name, title, gate } of GATE_FLAVOURS) {
    command
      .option(`${gate.confFlag} <file>`, `your ${title} config${name === DEFAULT_PROXY ? '' : ` (with --proxy ${name})`}: a template with {{listen}} and {{upstream}}, or a full config with ${gate.poolFlag}`)
      .option(`${gate.poolFlag} <name>`, `the ${gate.poolWord} (of a full ${title} config) whose servers the gate points at your upstream`);
  }
  command
    .option('--proxy-timeout <duration>', `no config of your own: the proxy rendered by the gate with this idle timeout (${GATE_FLAVOURS.map((flavour) => `${flavour.title} ${flavour.gate.idleDirective}`).join(', ')})`)
    .option('--retry <policy>', `retry policy of the rendered config: ${GATE_FLAVOURS.map((flavour) => `${flavour.name} ${flavour.retryPolicies.join(', ')}`).join('; ')}`, 'default')
    .option('--upstream-cmd <cmd>', 'command that starts your upstream; its port is in env PORT and replaces {port}')
    .option('--upstream-url <url>', 'an upstream you already run, e.g. http://127.0.0.1:3000')
    .option('--upstream-image <image>', 'your upstream as an image, run on the Docker engine (needs --upstream-port)')
    .option('--upstream-port <n>', 'the port your image listens on (it also gets it in env PORT)')
    .option('--upstream-env <KEY=VALUE>', 'environment for your upstream, command or image (repeat for several)', (pair: string, all: string[]) => [...all, pair], [] as string[])
    .option('--health-path <path>', 'path the requests use', GATE_DEFAULTS.healthPath)
    .option('--method <method>', 'method the requests use', GATE_DEFAULTS.method)
    .option('--body <text>', 'request body (e.g. for --method POST)')
    .option('--max-failure-rate <rate>', 'fail when the failure rate is above this (0.001 = 0.1%)', String(GATE_DEFAULTS.maxFailureRate))
    .option('--confidence <c>', 'confidence of the decision', String(GATE_DEFAULTS.confidence))
    .option('--fault <spec>', 'a fault between the proxy and the upstream, e.g. latency:upstream:5ms (repeat for several)', (spec: string, all: string[]) => [...all, spec], [] as string[])
    .option('--burst <n>', 'requests per burst (default: the upstream block\'s keepalive, at most 32)')
    .option('--max-seconds <n>', 'time budget; undecided by then is a fail', String(GATE_DEFAULTS.maxSeconds))
    .option('--max-idle-wait <duration>', 'longest idle gap to fire at; a longer decisive close is judged by the measured order', '10s')
    .option('--min-margin <duration>', 'how much later than the proxy the upstream must close when judged by order', '1s');
  for (const { binary } of GATE_FLAVOURS) command.option(`${binary.flag} <path>`, `${binary.program} binary (default: ${binary.program} on PATH, or ${binary.env})`);
  return command
    .option('--seed <n>', 'seed of the burst order', String(GATE_DEFAULTS.seed))
    .option('--allow-masked', 'pass a race the proxy hid by retrying (with a warning) instead of failing on it')
    .option('--out <dir>', 'run directory for trials.jsonl, summary.json, report.md, report.html (default runs/gate-<time>)')
    .option('--no-record', 'write no run directory')
    .option('--junit <file>', 'also write a JUnit XML report')
    .option('--json', 'print the result as JSON')
    .action(async (flags: GateFlags) => {
      const options = gateOptionsFromFlags(flags);
      if (flags.junit) checkJunitPath(flags.junit);
      const result = await runGate({ ...options, onProgress: (line) => process.stderr.write(`gate: ${line}\n`) });
      process.stdout.write(`${flags.json ? gateJson(result) : gateText(result)}\n`);
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
  const upstreamEnv: Record<string, string> = {};
  for (const pair of flags.upstreamEnv) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--upstream-env: "${pair}" is not KEY=VALUE`);
    upstreamEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const input: GateInputFields = {
    proxy: flags.proxy,
    // Commander names each flavour's flags by its settings (--nginx-conf: nginxConf).
    ...Object.fromEntries(GATE_FLAVOURS.flatMap(({ gate, binary }) => [gate.confSetting, gate.poolSetting, binary.setting].map((setting) => [setting, flags[setting]]))),
    proxyTimeoutMs: flags.proxyTimeout, retry: flags.retry,
    upstreamCmd: flags.upstreamCmd, upstreamUrl: flags.upstreamUrl, upstreamImage: flags.upstreamImage, upstreamPort: flags.upstreamPort,
    upstreamEnv: flags.upstreamEnv.length > 0 ? upstreamEnv : undefined,
    healthPath: flags.healthPath, method: flags.method, body: flags.body,
    maxFailureRate: flags.maxFailureRate, confidence: flags.confidence, faults: flags.fault, burstSize: flags.burst,
    maxSeconds: flags.maxSeconds, maxIdleWaitMs: flags.maxIdleWait, minMarginMs: flags.minMargin,
    seed: flags.seed, allowMasked: flags.allowMasked,
    // Like a sweep, a run keeps its history by default, in a directory named by its start.
    out: flags.record === false ? undefined : flags.out ?? path.join('runs', `gate-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  };
  if (flags.record === false && flags.out) throw new UsageError('--out and --no-record disagree: give one');
  // Unset flags stay out, so that the schema's defaults apply.
  for (const key of Object.keys(input) as (keyof GateInputFields)[]) if (input[key] === undefined) delete input[key];
  return parseGateInput(input, 'flags');
}
