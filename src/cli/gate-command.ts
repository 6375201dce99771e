// `keepalive-lab gate`: a deploy gate on the user's own proxy config and upstream. Exit 0 pass,
// 1 fail (unsafe, or undecided within the time budget), 2 bad input.
import fs from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { gateJson, gateText, writeGateJunit } from '../gate/gate-report.js';
import { runGate, type GateOptions } from '../gate/run-gate.js';
import { PROXIES, RETRY_POLICIES_OF } from '../scenario/sweep-config.js';
import { GATE_DEFAULTS } from '../api.js';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';

interface GateFlags {
  proxy: string;
  nginxConf?: string;
  upstreamBlock?: string;
  haproxyConf?: string;
  backend?: string;
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
  nginxBin?: string;
  haproxyBin?: string;
  seed: string;
  junit?: string;
  json?: boolean;
}

const number = (flag: string) => z.string().transform((text, ctx) => {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    ctx.addIssue({ code: 'custom', message: `${flag}: "${text}" is not a number` });
    return z.NEVER;
  }
  return value;
});
const duration = (flag: string) => z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `${flag}: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const flagsSchema = z.object({
  maxFailureRate: number('--max-failure-rate').pipe(z.number().gt(0, '--max-failure-rate: must be above 0').lt(1, '--max-failure-rate: must be below 1 (0.001 is 0.1%)')),
  confidence: number('--confidence').pipe(z.number().gt(0.5, '--confidence: must be above 0.5').lt(1, '--confidence: must be below 1 (e.g. 0.95)')),
  burst: number('--burst').pipe(z.number().int('--burst: a whole number').min(1, '--burst: at least 1').max(256, '--burst: at most 256')).optional(),
  maxSeconds: number('--max-seconds').pipe(z.number().positive('--max-seconds: must be above 0')),
  maxIdleWait: duration('--max-idle-wait'),
  minMargin: duration('--min-margin'),
  seed: number('--seed').pipe(z.number().int().nonnegative()),
  proxyTimeout: duration('--proxy-timeout').pipe(z.number().positive('--proxy-timeout: must be above 0')).optional(),
});

export function gateCommand(): Command {
  return new Command('gate')
    .description('deploy gate: your proxy config in front of your upstream, bursts at the keep-alive boundary that decides; exit 0 safe, 1 unsafe, 2 bad input')
    .option('--proxy <flavour>', 'nginx or haproxy', 'nginx')
    .option('--nginx-conf <file>', 'your nginx config: a template with {{listen}} and {{upstream}}, or a full config with --upstream-block')
    .option('--upstream-block <name>', 'the upstream block (of a full nginx config) whose server lines the gate points at your upstream')
    .option('--haproxy-conf <file>', 'your HAProxy config (with --proxy haproxy): a template with {{listen}} and {{upstream}}, or a full config with --backend')
    .option('--backend <name>', 'the backend (of a full HAProxy config) whose server lines the gate points at your upstream')
    .option('--proxy-timeout <duration>', 'no config of your own: the proxy rendered by the gate with this idle timeout (nginx upstream keepalive_timeout, HAProxy timeout http-keep-alive)')
    .option('--retry <policy>', `retry policy of the rendered config: nginx ${RETRY_POLICIES_OF.nginx.join(', ')}; haproxy ${RETRY_POLICIES_OF.haproxy.join(', ')}`, 'default')
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
    .option('--min-margin <duration>', 'how much later than the proxy the upstream must close when judged by order', '1s')
    .option('--nginx-bin <path>', 'nginx binary (default: nginx on PATH, or KEEPALIVE_LAB_NGINX_BIN)')
    .option('--haproxy-bin <path>', 'haproxy binary (default: haproxy on PATH, or KEEPALIVE_LAB_HAPROXY_BIN)')
    .option('--seed <n>', 'seed of the burst order', String(GATE_DEFAULTS.seed))
    .option('--junit <file>', 'also write a JUnit XML report')
    .option('--json', 'print the result as JSON')
    .action(async (flags: GateFlags) => {
      const options = gateOptionsFromFlags(flags);
      const result = await runGate({ ...options, onProgress: (line) => process.stderr.write(`gate: ${line}\n`) });
      process.stdout.write(`${flags.json ? gateJson(result) : gateText(result)}\n`);
      if (flags.junit) writeGateJunit(result, flags.junit);
      process.exitCode = result.outcome === 'pass' ? 0 : 1;
    });
}

export function gateOptionsFromFlags(flags: GateFlags): Omit<GateOptions, 'onProgress'> {
  if (!(PROXIES as readonly string[]).includes(flags.proxy)) throw new UsageError(`--proxy: "${flags.proxy}" is not a proxy flavour: use ${PROXIES.join(' or ')}`);
  const haproxy = flags.proxy === 'haproxy';
  if (haproxy && (flags.nginxConf || flags.upstreamBlock)) throw new UsageError('--nginx-conf/--upstream-block are nginx settings: with --proxy haproxy give --haproxy-conf (and --backend)');
  if (!haproxy && (flags.haproxyConf || flags.backend)) throw new UsageError('--haproxy-conf/--backend need --proxy haproxy');
  const confFlag = haproxy ? '--haproxy-conf' : '--nginx-conf';
  const conf = haproxy ? flags.haproxyConf : flags.nginxConf;
  const proxies = [conf && confFlag, flags.proxyTimeout && '--proxy-timeout'].filter(Boolean);
  if (proxies.length !== 1) throw new UsageError(`give one of ${confFlag} FILE or --proxy-timeout DURATION${proxies.length > 1 ? ` (got ${proxies.join(' and ')})` : ''}`);
  const upstreams = [flags.upstreamCmd && '--upstream-cmd', flags.upstreamUrl && '--upstream-url', flags.upstreamImage && '--upstream-image'].filter(Boolean);
  if (upstreams.length !== 1) throw new UsageError(`give one of --upstream-cmd "CMD", --upstream-url URL or --upstream-image IMAGE${upstreams.length > 1 ? ` (got ${upstreams.join(' and ')})` : ''}`);
  if (flags.upstreamImage && flags.upstreamPort === undefined) throw new UsageError('--upstream-image needs --upstream-port N: the port the image listens on');
  if (flags.upstreamPort !== undefined && !flags.upstreamImage) throw new UsageError('--upstream-port goes with --upstream-image');
  const upstreamPort = flags.upstreamPort === undefined ? undefined : Number(flags.upstreamPort);
  if (upstreamPort !== undefined && !(Number.isInteger(upstreamPort) && upstreamPort > 0 && upstreamPort < 65536)) throw new UsageError(`--upstream-port: "${flags.upstreamPort}" is not a port number`);
  if (flags.upstreamUrl && flags.upstreamEnv.length > 0) throw new UsageError('--upstream-env sets the environment of an upstream the gate starts: not of one at --upstream-url');
  const upstreamEnv: Record<string, string> = {};
  for (const pair of flags.upstreamEnv) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw new UsageError(`--upstream-env: "${pair}" is not KEY=VALUE`);
    upstreamEnv[match[1]!] = match[2]!;
  }
  if (flags.upstreamBlock && !flags.nginxConf) throw new UsageError('--upstream-block names a block of --nginx-conf: give the config too');
  if (flags.backend && !flags.haproxyConf) throw new UsageError('--backend names a backend of --haproxy-conf: give the config too');
  if (conf && !fs.existsSync(conf)) throw new UsageError(`${confFlag}: ${conf} does not exist`);
  const policies = RETRY_POLICIES_OF[flags.proxy as 'nginx' | 'haproxy'];
  if (!policies.includes(flags.retry ?? 'default')) throw new UsageError(`--retry: "${flags.retry}" is not ${haproxy ? 'an HAProxy' : 'an nginx'} retry policy: use ${policies.join(', ')}`);
  if (!flags.healthPath.startsWith('/')) throw new UsageError(`--health-path: "${flags.healthPath}" must start with /`);
  if (!/^[A-Z]+$/.test(flags.method)) throw new UsageError(`--method: "${flags.method}" is not an HTTP method (e.g. GET, POST)`);
  const parsed = flagsSchema.safeParse(flags);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const values = parsed.data;
  return {
    proxy: haproxy ? 'haproxy' : 'nginx',
    ...(flags.nginxConf ? { nginxConf: flags.nginxConf } : {}),
    ...(flags.upstreamBlock ? { upstreamBlock: flags.upstreamBlock } : {}),
    ...(flags.haproxyConf ? { haproxyConf: flags.haproxyConf } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(values.proxyTimeout !== undefined ? { proxyTimeoutMs: values.proxyTimeout } : {}),
    retry: (flags.retry ?? 'default') as GateOptions['retry'],
    ...(flags.upstreamCmd ? { upstreamCmd: flags.upstreamCmd } : {}),
    ...(flags.upstreamUrl ? { upstreamUrl: flags.upstreamUrl } : {}),
    ...(flags.upstreamImage ? { upstreamImage: flags.upstreamImage, upstreamPort: upstreamPort! } : {}),
    ...(Object.keys(upstreamEnv).length > 0 ? { upstreamEnv } : {}),
    healthPath: flags.healthPath,
    method: flags.method,
    ...(flags.body !== undefined ? { body: flags.body } : {}),
    maxFailureRate: values.maxFailureRate,
    confidence: values.confidence,
    faults: flags.fault,
    ...(values.burst !== undefined ? { burstSize: values.burst } : {}),
    maxSeconds: values.maxSeconds,
    maxIdleWaitMs: values.maxIdleWait,
    minMarginMs: values.minMargin,
    ...(flags.nginxBin ? { nginxBin: flags.nginxBin } : {}),
    ...(flags.haproxyBin ? { haproxyBin: flags.haproxyBin } : {}),
    seed: values.seed,
  };
}
