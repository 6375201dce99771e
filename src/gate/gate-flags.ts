// The gate's command-line flags, listed once: each names the setting of the gate's input it sets
// (gate-input.ts) and says what it does. The CLI's options and its mapping onto the input, and
// the names the input's errors use for the CLI, all come from this list; each gate flavour adds
// its own (its config, the pool in it, its binary) from the registry.
import { DEFAULT_PROXY, proxyFlavours } from '../proxy/registry.js';
import { gateFlavour, type GateReadyFlavour } from './gate-proxy.js';

export const GATE_DEFAULTS = {
  healthPath: '/', method: 'GET', maxFailureRate: 0.001, confidence: 0.95, maxSeconds: 600, maxIdleWaitMs: 10_000, minMarginMs: 1000, seed: 1,
} as const;

/** The flavours the gate runs (those with a gate part). */
export const GATE_FLAVOURS: readonly GateReadyFlavour[] = proxyFlavours().filter((flavour) => flavour.gate).map(gateFlavour);

export interface GateFlag {
  /** The setting of the gate's input. */
  field: string;
  /** The flag with its argument ("--proxy-timeout <duration>"), or alone for a switch. */
  option: string;
  help: string;
  /** What --help shows as its default (the input's own default applies either way). */
  shownDefault?: string;
  /** `repeat`: each use adds one (--fault, --upstream-env). */
  repeat?: boolean;
}

const flavourFlags = (): GateFlag[] => GATE_FLAVOURS.flatMap(({ name, title, gate }) => [
  { field: gate.confSetting, option: `${gate.confFlag} <file>`, help: `your ${title} config${name === DEFAULT_PROXY ? '' : ` (with --proxy ${name})`}: a template with {{listen}} and {{upstream}}, or a full config with ${gate.poolFlag}` },
  { field: gate.poolSetting, option: `${gate.poolFlag} <name>`, help: `the ${gate.poolWord} (of a full ${title} config) whose servers the gate points at your upstream` },
]);

export const GATE_FLAG_LIST: readonly GateFlag[] = [
  { field: 'proxy', option: '--proxy <flavour>', help: GATE_FLAVOURS.map((flavour) => flavour.name).join(' or '), shownDefault: DEFAULT_PROXY },
  ...flavourFlags(),
  { field: 'proxyTimeoutMs', option: '--proxy-timeout <duration>', help: `no config of your own: the proxy rendered by the gate with this idle timeout (${GATE_FLAVOURS.map((flavour) => `${flavour.title} ${flavour.gate.idleDirective}`).join(', ')})` },
  { field: 'retry', option: '--retry <policy>', help: `retry policy of the rendered config: ${GATE_FLAVOURS.map((flavour) => `${flavour.name} ${flavour.retryPolicies.join(', ')}`).join('; ')}`, shownDefault: 'default' },
  { field: 'upstreamCmd', option: '--upstream-cmd <cmd>', help: 'command that starts your upstream; its port is in env PORT and replaces {port}' },
  { field: 'upstreamUrl', option: '--upstream-url <url>', help: 'an upstream you already run, e.g. http://127.0.0.1:3000' },
  { field: 'upstreamImage', option: '--upstream-image <image>', help: 'your upstream as an image, run on the Docker engine (needs --upstream-port)' },
  { field: 'upstreamPort', option: '--upstream-port <n>', help: 'the port your image listens on (it also gets it in env PORT)' },
  { field: 'upstreamEnv', option: '--upstream-env <KEY=VALUE>', help: 'environment for your upstream, command or image (repeat for several)', repeat: true },
  { field: 'healthPath', option: '--health-path <path>', help: 'path the requests use', shownDefault: GATE_DEFAULTS.healthPath },
  { field: 'method', option: '--method <method>', help: 'method the requests use', shownDefault: GATE_DEFAULTS.method },
  { field: 'body', option: '--body <text>', help: 'request body (e.g. for --method POST)' },
  { field: 'maxFailureRate', option: '--max-failure-rate <rate>', help: 'fail when the failure rate is above this (0.001 = 0.1%)', shownDefault: String(GATE_DEFAULTS.maxFailureRate) },
  { field: 'confidence', option: '--confidence <c>', help: 'confidence of the decision', shownDefault: String(GATE_DEFAULTS.confidence) },
  { field: 'faults', option: '--fault <spec>', help: 'a fault between the proxy and the upstream, e.g. latency:upstream:5ms (repeat for several)', repeat: true },
  { field: 'burstSize', option: '--burst <n>', help: 'requests per burst (default: the pool\'s idle connections, at most 32)' },
  { field: 'maxSeconds', option: '--max-seconds <n>', help: 'time budget; undecided by then is a fail', shownDefault: String(GATE_DEFAULTS.maxSeconds) },
  { field: 'maxIdleWaitMs', option: '--max-idle-wait <duration>', help: 'longest idle gap to fire at; a longer decisive close is judged by the measured order', shownDefault: '10s' },
  { field: 'minMarginMs', option: '--min-margin <duration>', help: 'how much later than the proxy the upstream must close when judged by order', shownDefault: '1s' },
  ...GATE_FLAVOURS.map(({ binary }) => ({ field: binary.setting, option: `${binary.flag} <path>`, help: `${binary.program} binary (default: ${binary.program} on PATH, or ${binary.env})` })),
  { field: 'traffic', option: '--traffic <rate>', help: 'your production traffic at the proxy (50/s, 3000/min, 1.7M/day): the verdict says how many failures a day to expect there if you ship (keepalive-lab predict)' },
  { field: 'seed', option: '--seed <n>', help: 'seed of the burst order', shownDefault: String(GATE_DEFAULTS.seed) },
  { field: 'allowConfigCode', option: '--allow-config-code', help: 'run a config that loads code (nginx load_module, perl, njs, Lua; HAProxy lua-load, external-check, program): only for a config you trust' },
  { field: 'allowMasked', option: '--allow-masked', help: 'pass a race the proxy hid by retrying (with a warning) instead of failing on it' },
  { field: 'capture', option: '--capture', help: 'capture the bursts\' packets with tcpdump into DIR/capture/; keepalive-lab explain DIR --trial ID shows a trial\'s' },
  { field: 'captureLimit', option: '--capture-limit <MB>', help: 'the most the capture keeps on disk, in megabytes (the oldest packets go first)', shownDefault: '200' },
  { field: 'out', option: '--out <dir>', help: 'run directory for trials.jsonl, summary.json, report.md, report.html (default runs/gate-<time>)' },
];

/** The flag's name ("--proxy-timeout"), and where commander keeps its value ("proxyTimeout"). */
export function gateFlagName(flag: GateFlag): string {
  return flag.option.split(' ')[0]!;
}
export function gateFlagKey(flag: GateFlag): string {
  return gateFlagName(flag).replace(/^--/, '').replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The CLI's name for each setting. */
export const GATE_FLAGS: Record<string, string> = Object.fromEntries(GATE_FLAG_LIST.map((flag) => [flag.field, gateFlagName(flag)]));
