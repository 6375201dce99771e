// The sweep's flags, listed once: each names the setting of the sweep's schema it sets
// (scenario/sweep-config.ts) and how its text becomes the setting's value. `sweep --help`, the
// mapping of flags onto the schema, the names in error messages and the check that --resume is
// given no setting all come from this one list; the flavours' binary flags come from the
// registry (proxy-flags.ts).
import type { Command } from 'commander';
import { PROFILE_NAMES } from '../scenario/profiles.js';
import { DEFAULT_CAPTURE_LIMIT_MB, type SweepConfigInput } from '../scenario/sweep-config.js';
import { UsageError } from '../util/errors.js';
import { expandOffsets, splitList } from './parse-list.js';
import { proxyBinaryOptions, proxyChoicesHelp, retryPoliciesHelp } from './proxy-flags.js';

/** How a flag's text becomes its setting's value. */
type Kind = 'text' | 'list' | 'number' | 'offsets' | 'fault' | 'fault-sets' | 'switch' | 'flag';

export interface SweepFlag {
  /** The setting of the sweep's schema the flag sets (a soak's own settings: soak/soak-config.ts). */
  field: (keyof SweepConfigInput & string) | 'rate' | 'duration' | 'pool' | 'clientConnections' | 'windowFrom';
  /** The flag with its argument, as --help shows it ("--proxy-timeout <list>"). */
  option: string;
  kind: Kind;
  help: string;
}

/** Shared by sweep and soak (the gate has its own, with the same words). */
const CAPTURE_FLAGS: SweepFlag[] = [
  { field: 'capture', option: '--capture', kind: 'flag', help: 'capture the run\'s packets with tcpdump into DIR/capture/, a ring per topology; keepalive-lab explain DIR --trial ID shows a trial\'s, report.html draws its sample failures\'' },
  { field: 'captureLimit', option: '--capture-limit <MB>', kind: 'number', help: `the most each topology's capture keeps on disk, in megabytes (the oldest packets go first) (default ${DEFAULT_CAPTURE_LIMIT_MB})` },
];

const SETTINGS: SweepFlag[] = [
  { field: 'runtime', option: '--runtime <name>', kind: 'text', help: 'local (processes here), containers (Docker, through Testcontainers) or auto (containers when a Docker engine answers) (default: KEEPALIVE_LAB_RUNTIME, else local)' },
  { field: 'profile', option: '--profile <name>', kind: 'text', help: `a load-balancer profile whose settings are defaults beneath yours: ${PROFILE_NAMES.join(', ')} (keepalive-lab profiles says what each models and cannot)` },
  { field: 'proxy', option: '--proxy <name>', kind: 'text', help: proxyChoicesHelp() },
  { field: 'proxyTimeout', option: '--proxy-timeout <list>', kind: 'list', help: 'the proxy\'s idle timeout P for upstream connections (nginx upstream keepalive_timeout, HAProxy timeout http-keep-alive, Caddy transport keepalive), e.g. 500ms,60s (default 60s,50ms)' },
  { field: 'upstreamTimeout', option: '--upstream-timeout <list>', kind: 'list', help: 'upstream keepAliveTimeout values K, e.g. 100ms,1s (default 100ms)' },
  { field: 'upstreamClose', option: '--upstream-close <list>', kind: 'list', help: 'exact (close K ms after the last response) and/or stock (Node\'s own handling) (default exact)' },
  { field: 'upstreamNode', option: '--upstream-node <list>', kind: 'list', help: 'run the upstream under these Node versions, each as its own cells, e.g. 20,22,24,26 (local: binaries from the npm registry, cached; containers: node:N-slim images) (default: the runtime\'s own Node)' },
  { field: 'closeStyle', option: '--close-style <style>', kind: 'text', help: 'fin or rst, for exact closes (default fin)' },
  { field: 'methods', option: '--methods <list>', kind: 'list', help: 'GET,POST (default GET,POST)' },
  { field: 'clients', option: '--clients <list>', kind: 'list', help: 'with --proxy none, the clients measured: raw (the harness\'s own connection), node-agent (http.Agent keepAlive), node-agent-timeout (the same with timeout = P), undici (default all)' },
  { field: 'retry', option: '--retry <list>', kind: 'list', help: `retry policies; ${retryPoliciesHelp()}` },
  { field: 'offsets', option: '--offsets <list>', kind: 'offsets', help: 'idle-gap offsets from the boundary: durations and ranges FROM..TO@STEP (default -20ms,-10ms,-4ms..3ms@0.5ms,10ms,20ms)' },
  { field: 'responseDelay', option: '--response-delay <duration>', kind: 'text', help: 'the upstream waits this long before answering (default 0)' },
  { field: 'bodySize', option: '--body-size <bytes>', kind: 'number', help: 'bytes of the upstream\'s response body (default 3)' },
  { field: 'trials', option: '--trials <n>', kind: 'number', help: 'trials per offset, per cell and boundary (default 22; each aims evenly within its offset\'s 0.5 ms stratum)' },
  { field: 'boundaries', option: '--boundaries <which>', kind: 'text', help: 'auto (the close that comes first), upstream, proxy or both (default auto)' },
  { field: 'lanes', option: '--lanes <n>', kind: 'number', help: 'concurrent lanes, each with its own upstream pool in the proxy; more is faster, but above 16 the harness\'s own load widens the window it measures (default 16)' },
  { field: 'blocks', option: '--blocks <n>', kind: 'text', help: 'randomized blocks each cell\'s trials are dealt into, every topology firing its share of each block in a shuffled order (default auto: up to 10, at least 10 trials a lane in each)' },
  { field: 'probeSamples', option: '--probe-samples <n>', kind: 'number', help: 'idle connections the probe times per topology (default 40)' },
  { field: 'maxCellSeconds', option: '--max-cell-seconds <n>', kind: 'number', help: 'stop starting trials in a cell after this many seconds (default 600)' },
  { field: 'seed', option: '--seed <n>', kind: 'number', help: 'seed of the trial order (default 1)' },
  { field: 'faults', option: '--fault <spec>', kind: 'fault', help: 'a fault between the proxy and the upstream, TYPE:STREAM[:VALUE][:KEY=VALUE], e.g. latency:upstream:10ms (repeat for several)' },
  { field: 'faults', option: '--faults <sets>', kind: 'fault-sets', help: 'several fault sets, each measured as its own cells: ";" between sets, "," within one, "none" for no faults' },
  { field: 'toxiproxy', option: '--through-toxiproxy', kind: 'switch', help: 'pass fault-free cells through Toxiproxy too (default: straight to the upstream)' },
  { field: 'shard', option: '--shard <I/N>', kind: 'text', help: 'measure only shard I of N of this matrix (its topologies, by a stable hash), for a CI matrix or a Kubernetes Indexed Job; auto/N reads JOB_COMPLETION_INDEX (0-based); keepalive-lab merge joins the shards (docs/scale.md)' },
  { field: 'referenceCell', option: '--reference-cell <id>', kind: 'text', help: 'with --shard: a cell of the matrix every shard also measures, as <id>@shardI, so that the merge can say whether the machines agree' },
  { field: 'pin', option: '--pin <layout>', kind: 'text', help: 'run the proxy and the upstream each on its own CPU (split) or both on one (shared), so that runs compare: left to the scheduler, the window moves with where they land (local runtime; needs taskset)' },
  { field: 'traffic', option: '--traffic <rate>', kind: 'text', help: 'the production traffic at the proxy (50/s, 3000/min, 1.7M/day or a profile 20/s:8h,200/s:16h): the reports say how many failures a million and a day each racing cell predicts there (keepalive-lab predict)' },
  { field: 'trafficPool', option: '--traffic-pool <n>', kind: 'number', help: 'with --traffic: idle upstream connections each proxy worker keeps in production (nginx keepalive N) (default 32)' },
  { field: 'toxiproxyBin', option: '--toxiproxy-bin <path>', kind: 'text', help: 'a real toxiproxy-server (default: on PATH, or KEEPALIVE_LAB_TOXIPROXY_BIN, else the embedded one)' },
];

/** Every setting flag, in --help's order: the table, then each flavour's binary. */
export const SWEEP_FLAGS: readonly SweepFlag[] = [
  ...SETTINGS,
  ...proxyBinaryOptions().map(({ setting, option, help }) => ({ field: setting as SweepFlag['field'], option, kind: 'text' as const, help })),
  { field: 'out', option: '--out <dir>', kind: 'text', help: 'run directory for trials.jsonl, summary.json, summary.csv, report.md, report.html (default runs/<time>)' },
  ...CAPTURE_FLAGS,
];

/** The flag's name ("--proxy-timeout") and where commander keeps its value ("proxyTimeout"). */
export function flagName(flag: SweepFlag): string {
  return flag.option.split(' ')[0]!;
}
export function flagKey(flag: SweepFlag): string {
  return flagName(flag).replace(/^--/, '').replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The sweep's flags of these settings, in this order (a command that takes a part of them). */
export function sweepFlagsOf(fields: readonly SweepFlag['field'][]): SweepFlag[] {
  return fields.flatMap((field) => SWEEP_FLAGS.filter((flag) => flag.field === field));
}

/** The flag a schema field is set by, for messages ("--fault/--faults" where two set it). */
export function flagOfField(field: string, list: readonly SweepFlag[] = SWEEP_FLAGS): string | undefined {
  const flags = list.filter((flag) => flag.field === field).map(flagName);
  return flags.length > 0 ? flags.join('/') : undefined;
}

export function addSweepFlags(command: Command, list: readonly SweepFlag[] = SWEEP_FLAGS): Command {
  for (const flag of list) {
    if (flag.kind === 'fault') command.option(flag.option, flag.help, (spec: string, all: string[]) => [...all, spec], [] as string[]);
    else command.option(flag.option, flag.help);
  }
  return command;
}

/** The settings the flags give, as the schema's input (unset flags stay out, so its defaults apply). */
export function settingsFromFlags(flags: Record<string, unknown>, list: readonly SweepFlag[] = SWEEP_FLAGS): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  const given = givenFlags(flags, list);
  if (given.filter((flag) => flag.field === 'faults').length > 1) throw new UsageError('--fault and --faults: give one of them');
  for (const flag of given) settings[flag.field] = valueOf(flag, flags[flagKey(flag)]);
  return settings;
}

/** The flags given a value on this command line (a repeatable flag given none is not). */
export function givenFlags(flags: Record<string, unknown>, list: readonly SweepFlag[] = SWEEP_FLAGS): SweepFlag[] {
  return list.filter((flag) => isGiven(flags[flagKey(flag)]));
}

function isGiven(value: unknown): boolean {
  return value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0);
}

function valueOf(flag: SweepFlag, value: unknown): unknown {
  const text = value as string;
  switch (flag.kind) {
    case 'text': return text;
    case 'list': return splitList(text);
    case 'number': return toNumber(text, flagName(flag));
    case 'switch': return 'always';
    case 'flag': return true;
    case 'fault': return [value as string[]];
    case 'fault-sets': return text.split(';').map((set) => (set.trim() === 'none' ? [] : splitList(set)));
    case 'offsets':
      try {
        return expandOffsets(text);
      } catch (error) {
        throw new UsageError(`${flagName(flag)}: ${(error as Error).message}`);
      }
  }
}

export function toNumber(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag}: "${text}" is not a number`);
  return value;
}
