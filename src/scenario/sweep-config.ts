// What a sweep measures, validated in one schema shared by the CLI flags and the config file.
import { z } from 'zod';
import { faultSchema } from '../faults/fault.js';
import { HAPROXY_RETRY_POLICIES } from '../proxy/haproxy/render.js';
import { CLIENT_KINDS, CLOSE_MODES, CLOSE_STYLES, METHODS } from '../vocabulary.js';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { NODE_VERSION_PATTERN } from '../runtime/node-binaries.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles.js';

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

/** Retry policies per proxy: nginx's `proxy_next_upstream` choices, HAProxy's `retries`/`retry-on`. */
export const NGINX_RETRY_POLICIES = ['default', 'off', 'non_idempotent'] as const;
export const RETRY_POLICIES = ['default', 'off', 'non_idempotent', 'all_retryable'] as const;
/** `none`: no proxy; the clients of `clients` talk to the upstream straight (the client-side race). */
export const PROXIES = ['nginx', 'haproxy', 'none'] as const;
/** With no proxy nothing retries but the client itself: the policy is `off`. */
export const RETRY_POLICIES_OF: Record<(typeof PROXIES)[number], readonly string[]> = { nginx: NGINX_RETRY_POLICIES, haproxy: HAPROXY_RETRY_POLICIES, none: ['off'] };
/**
 * Defaults that depend on the proxy. Retry policies: the proxy's default and the setting that
 * changes its race. With no proxy, P is only the node-agent-timeout client's own idle timeout
 * and the other clients have none: one pairing, fired at the upstream's close.
 */
const PROXY_DEFAULTS: Record<(typeof PROXIES)[number], Record<string, unknown>> = {
  nginx: { retry: ['default', 'off'] },
  haproxy: { retry: ['default', 'all_retryable'] },
  none: { retry: ['off'], proxyTimeout: [60_000], boundaries: 'upstream' },
};
export const BOUNDARY_CHOICES = ['auto', 'upstream', 'proxy', 'both'] as const;

/** Offsets (ms from the boundary): -3..+3 ms in 0.5 ms steps, where the race lives, plus far points. */
export const DEFAULT_OFFSETS_MS = [-20, -10, ...Array.from({ length: 13 }, (_, i) => -3 + i * 0.5), 10, 20];

export const sweepConfigSchema = z.object({
  proxy: z.enum(PROXIES, { message: `not a proxy: use ${PROXIES.join(' or ')}` }).default('nginx'),
  /** A load-balancer profile (profiles.ts): its settings are defaults beneath the user's. */
  profile: z.enum(PROFILE_NAMES, { message: `not a profile: use ${PROFILE_NAMES.join(', ')} (keepalive-lab profiles says what each models)` }).optional(),
  // nginx and HAProxy read their timeouts in whole milliseconds (nginx refuses "0.5ms").
  proxyTimeout: list(positiveDurationMs.pipe(z.number().int('nginx and HAProxy take whole milliseconds: give 1ms or more, in steps of 1ms'))).default([60_000, 50]),
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
  trials: z.number().int().positive().max(1_000_000).default(100).describe('trials per offset per cell and boundary'),
  boundaries: z.enum(BOUNDARY_CHOICES).default('auto'),
  lanes: z.number().int().min(1).max(1024).default(64),
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
  nginxBin: z.string().min(1).optional(),
  haproxyBin: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
}).strict().superRefine((config, ctx) => {
  const allowed = RETRY_POLICIES_OF[config.proxy];
  const wrong = config.retry.find((policy) => !allowed.includes(policy));
  if (wrong) ctx.addIssue({ code: 'custom', path: ['retry'], message: `"${wrong}" is not ${config.proxy === 'nginx' ? 'an' : 'a'} ${config.proxy} retry policy: use ${allowed.join(', ')}` });
  if (config.proxy !== 'nginx' && config.profile) ctx.addIssue({ code: 'custom', path: ['profile'], message: `the profiles are nginx settings: drop --profile with --proxy ${config.proxy}` });
  if (config.clients && config.proxy !== 'none') ctx.addIssue({ code: 'custom', path: ['clients'], message: 'the clients are measured without a proxy: add --proxy none' });
  if (config.closeStyle === 'rst' && config.upstreamClose.includes('stock')) ctx.addIssue({ code: 'custom', path: ['closeStyle'], message: 'rst closes need --upstream-close exact: stock Node always closes with a FIN' });
  if (config.proxy === 'none' && config.faults.some((set) => set.length > 0)) ctx.addIssue({ code: 'custom', path: ['faults'], message: 'faults sit between a proxy and the upstream: drop them with --proxy none' });
});

export type SweepConfigInput = z.input<typeof sweepConfigSchema>;
export type SweepConfig = z.output<typeof sweepConfigSchema>;
export type ProxyFlavour = (typeof PROXIES)[number];

/**
 * Defaults that depend on other settings go beneath everything the input sets itself: a named
 * profile's settings, and the defaults of the chosen proxy.
 */
function withDependentDefaults(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const given = input as { profile?: unknown; proxy?: unknown };
  const profile = PROFILES[given.profile as ProfileName];
  const proxyDefaults = PROXY_DEFAULTS[given.proxy as ProxyFlavour] ?? {};
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
