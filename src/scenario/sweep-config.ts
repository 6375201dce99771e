// What a sweep measures, validated in one schema shared by the CLI flags and the config file.
import { z } from 'zod';
import { faultSchema } from '../faults/fault.js';
import { DEFAULT_PROXY, findProxyFlavour, PROXY_NAMES, proxyFlavour, proxyFlavours } from '../proxy/registry.js';
import { CLIENT_KINDS, CLOSE_MODES, CLOSE_STYLES, METHODS } from '../vocabulary.js';
import { parseDuration } from '../util/duration.js';
import { trafficSetting } from './traffic.js';
import { PIN_LAYOUTS } from '../runtime/cpu-pinning.js';
import { UsageError } from '../util/errors.js';
import { NODE_VERSION_PATTERN } from '../runtime/node-binaries.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles.js';
import { parseShard } from './shards.js';

/** A duration given as text ("500ms", "1s") or as a number of milliseconds. */
export const durationMs = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
const positiveDurationMs = durationMs.pipe(z.number().positive('must be above 0'));
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'needs at least one value');

/** Every flavour's retry policies; which ones a flavour takes is checked against its own list. */
const RETRY_POLICIES = [...new Set(proxyFlavours().flatMap((flavour) => flavour.retryPolicies))] as [string, ...string[]];
/** The `<flavour>Bin` settings, one per flavour with a binary (nginxBin, haproxyBin, ...). */
const BINARY_SETTINGS = Object.fromEntries(proxyFlavours().flatMap((flavour) => (flavour.binary ? [[flavour.binary.setting, z.string().min(1).optional()]] : [])));
export const BOUNDARY_CHOICES = ['auto', 'upstream', 'proxy', 'both'] as const;

/**
 * The default load: 16 lanes. The window's width W grows with the harness's own load, since a
 * busy proxy reuses a connection whose FIN it has not read yet: behind nginx 60 s with K =
 * 100 ms, W was 0.24 ms at 8 lanes, 0.26 at 16, 0.33-0.39 at 32 and 0.8 at 128 (bench:repro, 3
 * runs each, docs/benchmarks.md). 16 is the most that stays within 15% of the lowest load.
 */
export const DEFAULT_LANES = 16;

/** The default bound of one topology's packet capture (--capture-limit), in millions of bytes. */
export const DEFAULT_CAPTURE_LIMIT_MB = 200;

/** Trials per offset by default: at 16 lanes the default sweep's 8 cells then take about 35 s
 *  here (19 offsets). A precise W takes more (--trials 100: about 2 minutes). */
export const DEFAULT_TRIALS = 22;

/**
 * Offsets (ms from the boundary): -4..+3 ms in 0.5 ms steps, where the race lives, plus far
 * points. Dense from -4: the window sits 0.5-1.5 ms before the probed close (the probe sees the
 * close late), and from -3 a window 1 ms earlier than usual reached the edge of the strata.
 */
export const DEFAULT_OFFSETS_MS = [-20, -10, ...Array.from({ length: 15 }, (_, i) => -4 + i * 0.5), 10, 20];

export const sweepConfigSchema = z.object({
  proxy: z.enum(PROXY_NAMES, { message: `not a proxy: use ${PROXY_NAMES.slice(0, -1).join(', ')} or ${PROXY_NAMES.at(-1)}` }).default(DEFAULT_PROXY),
  /** A load-balancer profile (profiles.ts): its settings are defaults beneath the user's. */
  profile: z.enum(PROFILE_NAMES, { message: `not a profile: use ${PROFILE_NAMES.join(', ')} (keepalive-lab profiles says what each models)` }).optional(),
  // Proxies read their timeouts in whole milliseconds (nginx refuses "0.5ms").
  proxyTimeout: list(positiveDurationMs.pipe(z.number().int('proxies take whole milliseconds: give 1ms or more, in steps of 1ms'))).default([60_000, 50]),
  upstreamTimeout: list(positiveDurationMs).default([100]),
  upstreamClose: list(z.enum(CLOSE_MODES)).default(['exact']),
  closeStyle: z.enum(CLOSE_STYLES).default('fin'),
  /** Node versions to run the upstream under, each measured as its own cells (a major or a full
   *  version); unset: the runtime's own (the harness's Node locally, the node image in containers). */
  upstreamNode: list(z.string().regex(NODE_VERSION_PATTERN, 'a Node version is a major (22) or a full version (22.23.3)')).optional(),
  /** The upstream waits this long before answering (ms). */
  responseDelay: durationMs.pipe(z.number().min(0, 'must not be negative')).default(0),
  /** Bytes of the upstream's response body. */
  bodySize: z.number().int().min(0).max(100_000_000).default(3),
  methods: list(z.enum(METHODS)).default(['GET', 'POST']),
  /** With `proxy: none`, the clients measured, each as its own cells (default: all of them). */
  clients: list(z.enum(CLIENT_KINDS)).optional(),
  retry: list(z.enum(RETRY_POLICIES)).default(['default', 'off']),
  offsets: list(durationMs).default(DEFAULT_OFFSETS_MS),
  trials: z.number().int().positive().max(1_000_000).default(DEFAULT_TRIALS).describe('trials per offset per cell and boundary'),
  boundaries: z.enum(BOUNDARY_CHOICES).default('auto'),
  lanes: z.number().int().min(1).max(1024).default(DEFAULT_LANES),
  /** Randomized blocks each cell's trials are dealt into (auto: up to 10, see run-sweep.ts). */
  blocks: z.union([z.literal('auto'), z.number(), z.string().regex(/^\d+$/, 'give auto or a whole number of blocks').transform(Number)])
    .pipe(z.union([z.literal('auto'), z.number().int('give a whole number of blocks').min(1, 'give 1 or more').max(100, 'give 100 or fewer')])).default('auto'),
  keepaliveRequests: z.number().int().positive().default(1_000_000),
  workerProcesses: z.number().int().positive().max(64).default(1),
  probeSamples: z.number().int().min(3).max(10_000).default(40),
  maxCellSeconds: z.number().positive().default(600),
  seed: z.number().int().nonnegative().default(1),
  /** Fault sets: each is measured as its own cells; [] is the set with no faults. */
  faults: z.array(z.array(faultSchema)).min(1, 'needs at least one fault set ([] for none)').default([[]]),
  /** `auto`: only cells with faults pass a Toxiproxy; `always`: fault-free cells too. */
  toxiproxy: z.enum(['auto', 'always']).default('auto'),
  /** Where the topology runs; unset: KEEPALIVE_LAB_RUNTIME, else local (see select-runtime.ts). */
  runtime: z.enum(['auto', 'local', 'containers']).optional(),
  toxiproxyBin: z.string().min(1).optional(),
  ...BINARY_SETTINGS,
  out: z.string().min(1).optional(),
  /** Capture each topology's packets into the run directory's capture/ (needs tcpdump). */
  capture: z.boolean().default(false),
  /** The bound of each topology's capture, in millions of bytes (tcpdump's unit; 2 at least: a ring of two 1 MB files). */
  captureLimit: z.number().int('give whole megabytes (millions of bytes), e.g. 200').min(2, 'at least 2 (MB): tcpdump rotates whole megabytes, and a ring needs two files').default(DEFAULT_CAPTURE_LIMIT_MB),
  /** This run is shard I of N of the matrix (shards.ts): "I/N", "auto/N" (JOB_COMPLETION_INDEX), or as recorded. */
  shard: z.union([z.string(), z.object({ index: z.number().int(), count: z.number().int() }).strict()]).transform((value, ctx) => {
    try {
      return parseShard(typeof value === 'string' ? value : `${value.index}/${value.count}`);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }).optional(),
  /** A cell every shard measures besides its own slice, to compare the machines (its id, as the report names it). */
  referenceCell: z.string().min(1).optional(),
  /** Where the proxy and the upstream run: each on its own CPU (split) or both on one (shared);
   *  unset, wherever the scheduler puts them (local runtime; runtime/cpu-pinning.ts). */
  pin: z.enum(PIN_LAYOUTS, { message: `not a layout: use ${PIN_LAYOUTS.join(' or ')}` }).optional(),
  /** The production traffic the reports predict failures at (predict's `--rate`): reports only. */
  traffic: trafficSetting.optional(),
  /** With traffic: idle upstream connections per proxy worker in production (default 32). */
  trafficPool: z.number().int().min(1).max(100_000).optional(),
}).strict().superRefine((config, ctx) => {
  if (config.pin !== undefined && config.runtime === 'containers') ctx.addIssue({ code: 'custom', path: ['pin'], message: 'pinning runs on the local runtime: add --runtime local' });
  if (config.trafficPool !== undefined && config.traffic === undefined) ctx.addIssue({ code: 'custom', path: ['trafficPool'], message: 'the pool of the production traffic: add --traffic RATE' });
  if (config.referenceCell !== undefined && config.shard === undefined) ctx.addIssue({ code: 'custom', path: ['referenceCell'], message: 'the reference cell is what every shard measures to compare the machines: add --shard I/N' });
  const flavour = proxyFlavour(config.proxy);
  const wrong = config.retry.find((policy) => !flavour.retryPolicies.includes(policy));
  if (wrong) ctx.addIssue({ code: 'custom', path: ['retry'], message: `"${wrong}" is not a retry policy of ${flavour.title}: use ${flavour.retryPolicies.join(', ')}` });
  if (!flavour.takesProfiles && config.profile) ctx.addIssue({ code: 'custom', path: ['profile'], message: `the profiles are nginx settings: drop --profile with --proxy ${config.proxy}` });
  const noProxy = proxyFlavours().find((candidate) => candidate.passThrough)!.name;
  if (config.clients && !flavour.passThrough) ctx.addIssue({ code: 'custom', path: ['clients'], message: `the clients are measured without a proxy: add --proxy ${noProxy}` });
  if (config.closeStyle === 'rst' && config.upstreamClose.includes('stock')) ctx.addIssue({ code: 'custom', path: ['closeStyle'], message: 'rst closes need --upstream-close exact: stock Node always closes with a FIN' });
  if (flavour.passThrough && config.faults.some((set) => set.length > 0)) ctx.addIssue({ code: 'custom', path: ['faults'], message: `faults sit between a proxy and the upstream: drop them with --proxy ${config.proxy}` });
});

export type SweepConfigInput = z.input<typeof sweepConfigSchema>;
export type SweepConfig = z.output<typeof sweepConfigSchema>;

/**
 * Defaults that depend on other settings go beneath everything the input sets itself: a named
 * profile's settings, and the defaults of the chosen proxy.
 */
function withDependentDefaults(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const given = input as { profile?: unknown; proxy?: unknown };
  const profile = PROFILES[given.profile as ProfileName];
  // An unknown name gets no defaults here: the schema names it as the problem.
  const proxyDefaults = typeof given.proxy === 'string' || given.proxy === undefined ? findProxyFlavour(given.proxy)?.sweepDefaults ?? {} : {};
  return { ...proxyDefaults, ...(profile?.settings ?? {}), ...input };
}

/** Validates a sweep configuration; the error names the field and the fix. */
export function parseSweepConfig(input: unknown, source = 'config'): SweepConfig {
  const result = sweepConfigSchema.safeParse(withDependentDefaults(input));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  throw new UsageError(`${source}: ${field}: ${issue.message}`);
}
