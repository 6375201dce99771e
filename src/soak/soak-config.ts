// What a soak run measures: the sweep's pairings and scenarios, with Poisson traffic instead of
// aimed trials. The pairing settings are validated by the sweep's own schema.
import { z } from 'zod';
import { proxyFlavour, proxyFlavours } from '../proxy/registry.js';
import { UsageError } from '../util/errors.js';
import { parseTraffic } from '../scenario/traffic.js';
import { durationMs, parseSweepConfig, type SweepConfig } from '../scenario/sweep-config.js';

const soakRate = z.union([z.number(), z.string()]).transform((value, ctx) => {
  // A bare number is requests a second, as a flag's list gives it ("0" as much as 0).
  const plain = typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  let rate = typeof plain === 'number' ? plain : Number.NaN;
  if (typeof plain === 'string' && plain.includes(':')) {
    ctx.addIssue({ code: 'custom', message: `"${plain}": a soak sends each rate as its own cell, not a day's profile: give rates, e.g. 30,100,300 or 50/s` });
    return z.NEVER;
  }
  if (typeof plain === 'string') {
    try {
      const traffic = parseTraffic(plain, 'rate');
      rate = traffic.segments.length === 1 ? traffic.meanRatePerSecond : Number.NaN;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^rate: /, '') });
      return z.NEVER;
    }
  }
  if (!(rate > 0)) ctx.addIssue({ code: 'custom', message: 'must be above 0 (one rate per value, e.g. 30,100,300)' });
  else if (rate > 5000) ctx.addIssue({ code: 'custom', message: 'at most 5000 requests/s on this harness' });
  return rate;
});

export const soakSettingsSchema = z.object({
  /** Mean arrivals per second (Poisson): one, or several, each its own cell on the same topology
   *  (a number, or a rate as predict takes one: "50/s", "3000/min"). */
  rate: z.preprocess((rate) => (rate === undefined || Array.isArray(rate) ? rate : [rate]), z.array(soakRate).min(1, 'needs at least one rate')).default([100]),
  /** How long each cell receives traffic (ms). */
  duration: durationMs.pipe(z.number().positive('must be above 0')).default(60_000),
  /** Idle upstream connections the proxy keeps (nginx `keepalive N`), shared by all requests. */
  pool: z.number().int().min(1).max(1024).default(32),
  /** Client connections to the proxy at most. */
  clientConnections: z.number().int().min(1).max(4096).default(256),
  /** A sweep's run directory of the same pairings: each cell's failures are predicted from its window. */
  windowFrom: z.string().min(1).optional(),
}).strict();

export type SoakSettings = z.output<typeof soakSettingsSchema>;

export interface SoakConfig {
  /** The pairings, scenarios, proxy and runtime (lanes, offsets and trials do not apply). */
  sweep: SweepConfig;
  soak: SoakSettings;
}

const SOAK_FIELDS = ['rate', 'duration', 'pool', 'clientConnections', 'windowFrom'] as const;

/** Splits and validates a soak config: soak fields here, the rest by the sweep's schema. */
export function parseSoakConfig(input: Record<string, unknown>, source = 'config'): SoakConfig {
  const soakInput: Record<string, unknown> = {};
  const sweepInput: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) ((SOAK_FIELDS as readonly string[]).includes(key) ? soakInput : sweepInput)[key] = value;
  for (const key of ['offsets', 'trials', 'boundaries', 'lanes', 'blocks', 'clients', 'probeSamples', 'maxCellSeconds', 'faults', 'toxiproxy', 'profile', 'upstreamNode', 'traffic', 'trafficPool'] as const) {
    if (key in sweepInput) throw new UsageError(`${source}: ${key}: not a soak setting (soak sends Poisson traffic through one shared pool)`);
  }
  const sweep = parseSweepConfig({ ...sweepInput, lanes: 1 }, source);
  if (proxyFlavour(sweep.proxy).passThrough) throw new UsageError(`${source}: proxy: soak measures a proxy's shared pool: use ${proxyFlavours().filter((flavour) => !flavour.passThrough).map((flavour) => flavour.name).join(' or ')}`);
  const parsed = soakSettingsSchema.safeParse(soakInput);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // A list's item is named by its list (rate, not rate.1): the message quotes the value.
    throw new UsageError(`${source}: ${issue.path.filter((part) => typeof part !== 'number').join('.') || '(top level)'}: ${issue.message}`);
  }
  return { sweep, soak: parsed.data };
}
