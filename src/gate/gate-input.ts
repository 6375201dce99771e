// The gate's input, validated in one place for both of its callers: the CLI maps its flags onto
// it, and the library's gate() passes what a user wrote in a test. Either way a problem is one
// line that names the setting as that caller wrote it (`--max-failure-rate` on the command
// line, `maxFailureRate` in a call), before anything starts.
import fs from 'node:fs';
import { z } from 'zod';
import { trafficSetting } from '../scenario/traffic.js';
import { parseFaultSpec } from '../faults/fault.js';
import { DEFAULT_PROXY, proxyFlavour } from '../proxy/registry.js';
import { DEFAULT_CAPTURE_LIMIT_MB, durationMs } from '../scenario/sweep-config.js';
import { UsageError } from '../util/errors.js';
import { checkGateRunDir } from './gate-history.js';
import { GATE_DEFAULTS, GATE_FLAGS, GATE_FLAVOURS } from './gate-flags.js';
import { gateFlavour } from './gate-proxy.js';
import type { GateOptions } from './run-gate.js';
import { assertCanCapture } from '../capture/tcpdump.js';

/** The settings that belong to one flavour (its config, its pool, its binary). */
const GATE_PROXIES = GATE_FLAVOURS.map((flavour) => flavour.name) as [string, ...string[]];
const FLAVOUR_SETTINGS = new Set(GATE_FLAVOURS.flatMap((flavour) => [flavour.gate.confSetting, flavour.gate.poolSetting, flavour.binary.setting]));

/** A number, or its text as a flag gives it. */
const numeric = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const number = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a number` });
    return z.NEVER;
  }
  return number;
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const gateInputSchema = z.strictObject({
  proxy: z.enum(GATE_PROXIES, { error: (issue) => `"${String(issue.input)}" is not a proxy flavour for the gate: use ${GATE_PROXIES.join(' or ')}` }).default(DEFAULT_PROXY),
  // Proxies read their timeouts in whole milliseconds (nginx refuses "0.5ms").
  proxyTimeoutMs: durationMs.pipe(z.number().positive('must be above 0').int('proxies take whole milliseconds: give 1ms or more, in steps of 1ms')).optional(),
  retry: z.string().default('default'),
  upstreamCmd: z.string().min(1, 'needs a command').optional(),
  upstreamUrl: z.string().min(1, 'needs a URL').optional(),
  upstreamImage: z.string().min(1, 'needs an image').optional(),
  upstreamPort: numeric.pipe(z.number().int('is not a port number').min(1, 'is not a port number').max(65_535, 'is not a port number')).optional(),
  upstreamEnv: z.record(z.string(), z.string()).optional()
    .refine((env) => env === undefined || Object.keys(env).every((key) => ENV_NAME.test(key)), 'needs KEY=VALUE with a variable name for KEY (e.g. KEEP_ALIVE_TIMEOUT=500)'),
  // Written into the request line as it is: no space or control character may end it early.
  healthPath: z.string().startsWith('/', 'must start with /').regex(/^[\x21-\x7e]*$/, 'must be a path without spaces or control characters (percent-encode them)').default(GATE_DEFAULTS.healthPath),
  method: z.string().regex(/^[A-Z]+$/, 'is not an HTTP method (e.g. GET, POST)').default(GATE_DEFAULTS.method),
  body: z.string().optional(),
  maxFailureRate: numeric.pipe(z.number().gt(0, 'must be above 0').lt(1, 'must be below 1 (0.001 is 0.1%)')).default(GATE_DEFAULTS.maxFailureRate),
  confidence: numeric.pipe(z.number().gt(0.5, 'must be above 0.5').lt(1, 'must be below 1 (e.g. 0.95)')).default(GATE_DEFAULTS.confidence),
  faults: z.array(z.string()).default([]),
  burstSize: numeric.pipe(z.number().int('must be a whole number').min(1, 'must be at least 1').max(256, 'must be at most 256')).optional(),
  maxSeconds: numeric.pipe(z.number().positive('must be above 0')).default(GATE_DEFAULTS.maxSeconds),
  maxIdleWaitMs: durationMs.pipe(z.number().positive('must be above 0')).default(GATE_DEFAULTS.maxIdleWaitMs),
  minMarginMs: durationMs.pipe(z.number().min(0, 'must not be negative')).default(GATE_DEFAULTS.minMarginMs),
  seed: numeric.pipe(z.number().int('must be a whole number').nonnegative('must not be negative')).default(GATE_DEFAULTS.seed),
  allowMasked: z.boolean().default(false),
  allowConfigCode: z.boolean().default(false),
  out: z.string().min(1, 'needs a directory').optional(),
  // The production traffic the verdict predicts failures at (keepalive-lab predict's --rate).
  traffic: trafficSetting.optional(),
  capture: z.boolean().default(false),
  captureLimit: numeric.pipe(z.number().int('give whole megabytes (millions of bytes), e.g. 200').min(2, 'at least 2 (MB): tcpdump rotates whole megabytes, and a ring needs two files')).default(DEFAULT_CAPTURE_LIMIT_MB),
  // Each gate flavour's own settings: its config file, the pool in it, its binary.
  ...Object.fromEntries(GATE_FLAVOURS.flatMap((flavour) => [
    [flavour.gate.confSetting, z.string().min(1, 'needs a file').optional()],
    [flavour.gate.poolSetting, z.string().min(1, 'needs a name').optional()],
    [flavour.binary.setting, z.string().min(1, 'needs a path').optional()],
  ])),
});

/**
 * What a library call may pass: the schema's input, each setting optional where it has a default,
 * and the flavours' own settings by name (nginxConf, upstreamBlock, haproxyConf, backend, nginxBin, ...).
 */
export type GateInputFields = z.input<typeof gateInputSchema> & { [flavourSetting: string]: unknown };
type Field = string;

export type Naming = 'flags' | 'fields';

/**
 * The gate's options from what its caller gave, or a UsageError naming the first problem and
 * its fix in one line. `flags`: the CLI's names; `fields`: the library's.
 */
export function parseGateInput(input: unknown, naming: Naming): Omit<GateOptions, 'onProgress'> {
  const name = (field: Field): string => (naming === 'flags' ? GATE_FLAGS[field] ?? field : field);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new UsageError('the gate\'s input must be an object of settings');
  const parsed = gateInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path[0] as Field | undefined;
    if (issue.code === 'unrecognized_keys') throw new UsageError(`unknown setting ${issue.keys.map((key) => `"${key}"`).join(', ')}: the gate takes ${Object.keys(GATE_FLAGS).map((key) => name(key as Field)).join(', ')}`);
    throw new UsageError(`${field ? name(field) : 'the gate\'s input'}: ${issue.message}`);
  }
  const { proxy, ...options } = parsed.data;
  // The flavours' own settings, by the names the registry gives them (all strings).
  const flavourSetting = (key: string) => (options as Record<string, unknown>)[key] as string | undefined;
  const flavour = gateFlavour(proxyFlavour(proxy));
  const { gate } = flavour;
  const fail = (message: string): never => { throw new UsageError(message); };

  // Another flavour's settings are a mistake about which proxy this is.
  for (const other of GATE_FLAVOURS.filter((candidate) => candidate !== flavour)) {
    if (flavourSetting(other.gate.confSetting) || flavourSetting(other.gate.poolSetting)) {
      fail(`${name(other.gate.confSetting)}/${name(other.gate.poolSetting)} are ${other.title} settings: with ${name('proxy')} ${flavour.name} give ${name(gate.confSetting)} (and ${name(gate.poolSetting)})`);
    }
    if (flavourSetting(other.binary.setting)) fail(`${name(other.binary.setting)} names ${other.title}: with ${name('proxy')} ${flavour.name} give ${name(flavour.binary.setting)}`);
  }
  const conf = flavourSetting(gate.confSetting);
  const pool = flavourSetting(gate.poolSetting);
  const proxies = [conf && name(gate.confSetting), options.proxyTimeoutMs !== undefined && name('proxyTimeoutMs')].filter(Boolean);
  if (proxies.length !== 1) fail(`give one of ${name(gate.confSetting)} FILE or ${name('proxyTimeoutMs')} DURATION${proxies.length > 1 ? ` (got ${proxies.join(' and ')})` : ''}`);
  const upstreams = [options.upstreamCmd && name('upstreamCmd'), options.upstreamUrl && name('upstreamUrl'), options.upstreamImage && name('upstreamImage')].filter(Boolean);
  if (upstreams.length !== 1) fail(`give one of ${name('upstreamCmd')} "CMD", ${name('upstreamUrl')} URL or ${name('upstreamImage')} IMAGE${upstreams.length > 1 ? ` (got ${upstreams.join(' and ')})` : ''}`);
  if (options.upstreamImage && options.upstreamPort === undefined) fail(`${name('upstreamImage')} needs ${name('upstreamPort')} N: the port the image listens on`);
  if (options.upstreamPort !== undefined && !options.upstreamImage) fail(`${name('upstreamPort')} goes with ${name('upstreamImage')}`);
  if (options.upstreamUrl && options.upstreamEnv && Object.keys(options.upstreamEnv).length > 0) fail(`${name('upstreamEnv')} sets the environment of an upstream the gate starts: not of one at ${name('upstreamUrl')}`);
  if (pool && !conf) fail(`${name(gate.poolSetting)} names a ${gate.poolWord} of ${name(gate.confSetting)}: give the config too`);
  if (conf && !fs.existsSync(conf)) fail(`${name(gate.confSetting)}: ${conf} does not exist`);
  if (!flavour.retryPolicies.includes(options.retry)) fail(`${name('retry')}: "${options.retry}" is not a retry policy of ${flavour.title}: use ${flavour.retryPolicies.join(', ')}`);
  for (const spec of options.faults) {
    try {
      parseFaultSpec(spec);
    } catch (error) {
      fail(`${name('faults')}: ${(error as Error).message}`);
    }
  }
  if (options.capture && !options.out) fail(`${name('capture')} needs ${name('out')}: the run directory the packets are written to`);
  if (options.out) checkGateRunDir(options.out, name('out'));
  // The gate's chain runs here, whatever runs the upstream: its traffic crosses the loopback.
  if (options.capture) assertCanCapture();
  const binary = flavourSetting(flavour.binary.setting);
  const settings = Object.fromEntries(Object.entries(options).filter(([key]) => !FLAVOUR_SETTINGS.has(key)));
  return { ...(settings as typeof options), proxy: flavour.name, ...(conf ? { proxyConf: conf } : {}), ...(pool ? { pool } : {}), ...(binary ? { proxyBin: binary } : {}) };
}
