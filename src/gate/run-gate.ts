// The deploy gate: the user's proxy config in front of the user's upstream, both idle closes
// found, timed bursts at the close that decides, and a pass/fail with its evidence and fix.
// Everything it starts is stopped on every path (the cleanup registry, and the reaper for kill -9).
// This module is the orchestration; each step is its own module: the upstream's request and
// health (gate-request.ts), the chain and its evidence (gate-chain.ts), what decides and the
// words of the verdict (gate-verdict.ts), the firing (fire-bursts.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFaultSpec } from '../faults/fault.js';
import type { HistorySink } from '../history/history-file.js';
import { probeIdleClose, type ProbeResult } from '../probe/probe.js';
import type { PreparedProxyConf } from '../proxy/gate-flavour.js';
import { proxyFlavour } from '../proxy/registry.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { isShuttingDown, onCleanup } from '../util/cleanup.js';
import { StopList } from '../util/stop-list.js';
import { UsageError } from '../util/errors.js';
import { freePort, hostPort } from '../util/ports.js';
import { reapDirOnExit } from '../util/reaper.js';
import { wilsonInterval } from '../util/stats.js';
import type { ProxyName, RetryPolicy } from '../vocabulary.js';
import type { BurstTrial } from './boundary-bursts.js';
import { acceptCapacity, type AcceptCapacity } from './accept-capacity.js';
import { fireUntilDecided, MAX_COPIES } from './fire-bursts.js';
import { startGateChain, type GateChain } from './gate-chain.js';
import { recommendFix } from './gate-decision.js';
import { gateTrialRecord, openGateHistory, type GateHistoryRecord } from './gate-history.js';
import { gateFlavour, gateProxy, type GateProxy, type GateProxySettings, type GateReadyFlavour } from './gate-proxy.js';
import { buildRequest, healthCheck } from './gate-request.js';
import type { GateResult } from './gate-result.js';
import { writeGateOutputs } from './gate-run-report.js';
import { decisiveClose, firedVerdict, type Verdict } from './gate-verdict.js';
import { answerMsOf, windowOf } from '../predict/run-windows.js';
import { predictFailures } from '../predict/prediction.js';
import { parseTraffic } from '../scenario/traffic.js';
import { DEFAULT_POOL } from '../predict/predict-run.js';
import { measureProxyIdleClose, type ProxyIdleClose, type ProxyKeptIdle } from './proxy-idle-probe.js';
import { sequentialDesign, type SequentialDesign } from './sequential-design.js';
import { startUpstreamCommand, upstreamAtUrl, type UserUpstream } from './user-upstream.js';
import { withTestcontainers } from '../runtime/load-containers.js';
import { startWireCapture } from '../capture/wire-capture.js';
import { ringFor } from '../capture/tcpdump.js';
import { DEFAULT_CAPTURE_LIMIT_MB } from '../scenario/sweep-config.js';
import type { WireListener } from '../history/records.js';


export interface GateOptions {
  /** The proxy flavour (default nginx; src/proxy/registry.ts). */
  proxy?: ProxyName;
  /** The user's config of that proxy (template or full), or unset with proxyTimeoutMs. */
  proxyConf?: string;
  /** The pool in a full config to point at the harness (nginx's upstream block, HAProxy's backend). */
  pool?: string;
  proxyTimeoutMs?: number;
  /** Retry policy of the rendered config (with proxyTimeoutMs only). */
  retry?: RetryPolicy;
  upstreamCmd?: string;
  upstreamUrl?: string;
  /** The user's upstream as an image, listening on upstreamPort (needs a Docker engine). */
  upstreamImage?: string;
  upstreamPort?: number;
  /** Environment for the upstream (command or image), e.g. its keep-alive settings. */
  upstreamEnv?: Record<string, string>;
  healthPath: string;
  method: string;
  body?: string;
  maxFailureRate: number;
  confidence: number;
  faults: string[];
  burstSize?: number;
  maxSeconds: number;
  /** Longest idle gap the gate waits for per burst; a longer decisive boundary is judged by the measured order. */
  maxIdleWaitMs: number;
  /** The margin by which the upstream must outlast the proxy when judged by order alone. */
  minMarginMs: number;
  /** The proxy's binary (default: its flavour's environment variable, else PATH). */
  proxyBin?: string;
  seed: number;
  /** Count a race the proxy hid by retrying as a pass (with a warning) instead of a fail. */
  allowMasked?: boolean;
  /** Run a user's config whose directives load code (nginx load_module, HAProxy lua-load...): refused otherwise. */
  allowConfigCode?: boolean;
  /** The run directory (trials.jsonl, summary.json, report.md, report.html); unset: none. */
  out?: string;
  /** Your production traffic ("50/s"): the result then says how many failures to expect there. */
  traffic?: string;
  /** Capture the bursts' packets into the run directory, keeping at most captureLimit MB. */
  capture?: boolean;
  captureLimit?: number;
  onProgress?: (line: string) => void;
}

/**
 * Idle connections the probe times side by side in one idle period: enough that the aim's ends
 * (the closes' p1 and p99) are read from the distribution, not from its two extremes.
 */
const PROBE_SAMPLES = 200;
/** How long past the proxy's timeout and the margin the probe still waits for a close. */
const PROBE_WAIT_PAST_MARGIN_MS = 500;
/** Copies of the prepared proxy config fire side by side for about this many trials a second. */
const TARGET_TRIALS_PER_SECOND = 80;

/** How many copies of the proxy keep ~TARGET_TRIALS_PER_SECOND at this idle time: one burst each per idle period. */
export function copiesFor(idleMs: number, burstSize: number): number {
  return Math.max(1, Math.min(MAX_COPIES, Math.ceil((TARGET_TRIALS_PER_SECOND * idleMs) / 1000 / burstSize)));
}

export async function runGate(options: GateOptions): Promise<GateResult> {
  // Ctrl-C: once everything the run started has stopped (this undo is older, so it runs after
  // theirs), the reports are written from the trials measured so far.
  const out = options.out;
  const onInterrupt = out ? onCleanup(async () => {
    if (isShuttingDown() && fs.existsSync(path.join(out, HISTORY_FILE))) await writeGateOutputs(out);
  }) : null;
  try {
    const result = await measureGate(options);
    // The reports come from the history alone, as `keepalive-lab report DIR` rebuilds them.
    if (result.runDir) await writeGateOutputs(result.runDir);
    return result;
  } finally {
    await onInterrupt?.();
  }
}

/** What every step of a gate run shares: its settings, where it works, what it started. */
interface GateRun {
  options: GateOptions;
  started: number;
  say: (line: string) => void;
  design: SequentialDesign;
  flavour: GateReadyFlavour;
  proxySettings: GateProxySettings;
  userConfText: string | null;
  prefix: string;
  stops: StopList;
  /** Ends the run at once with this error: a proxy listened off loopback (proxy/listen-guard.ts). */
  cutShort: (error: UsageError) => void;
}

async function measureGate(options: GateOptions): Promise<GateResult> {
  const started = Date.now();
  const monotonicAtStart = Number(process.hrtime.bigint()) / 1e6;
  // Everything that can be checked without starting anything, first: when to look and what
  // decides (from the limit and confidence alone), the flavour, the user's config.
  const flavour = gateFlavour(proxyFlavour(options.proxy));
  const run: Omit<GateRun, 'prefix' | 'stops' | 'cutShort'> = {
    options, started, say: options.onProgress ?? (() => {}), design: sequentialDesign(options.maxFailureRate, options.confidence),
    flavour, proxySettings: proxySettingsOf(options), userConfText: readUserConf(options.proxyConf, flavour),
  };
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-gate-'));
  const forgetDir = reapDirOnExit(prefix);
  const stops = new StopList();
  const stopAll = onCleanup(async () => {
    await stops.stopAll();
    fs.rmSync(prefix, { recursive: true, force: true });
    forgetDir();
  });
  try {
    // A guard that trips ends the run here; the finally below stops every part (and any part a
    // step still in flight starts later: StopList).
    let cutShort!: (error: UsageError) => void;
    const tripped = new Promise<never>((_, reject) => { cutShort = reject; });
    return await Promise.race([measureIn({ ...run, prefix, stops, cutShort }, monotonicAtStart), tripped]);
  } finally {
    await stopAll();
  }
}

async function measureIn(run: GateRun, monotonicAtStart: number): Promise<GateResult> {
  const { options, say } = run;
  const proxy = gateProxy(run.flavour, run.proxySettings, run.userConfText, run.prefix, run.cutShort);
  // The proxy config is checked before anything starts (with a stand-in upstream address):
  // a syntax error, a missing block or a busy port is one line, and nothing ran.
  const listenPort = await freePort();
  const checked = proxy.prepare('127.0.0.1:9', listenPort, options.burstSize ?? 32);
  await proxy.check(checked);
  if (options.upstreamImage) await (await upstreamImages()).checkUpstreamImage(options.upstreamImage);
  const { upstream, tagTrials, capacity, burstSize } = await startUpstream(run, checked);

  // From here on the run measures: its directory holds everything as it is measured.
  const history = options.out ? openGateHistory(options.out) : null;
  if (history) {
    run.stops.unshift(() => history.close());
    history.append({ type: 'run', startedAt: new Date(run.started).toISOString(), monotonicAtStart, runtime: 'local', proxy: run.flavour.name,
      versions: { [run.flavour.name]: proxy.version, node: process.version }, settings: { command: 'gate', ...settingsOf(options), trialsTagged: tagTrials } });
  }
  const proxyIdleClose = await measureProxyClose(run, proxy, checked, listenPort, burstSize);
  const { probe, probeWaitMs } = await probeUpstream(run, upstream, checked, burstSize);
  const faults = options.faults.map((spec) => parseFaultSpec(spec));
  const chain = await startGateChain({ proxy, upstream, faults, probe, listenPort, burstSize, tagTrials, history, stops: run.stops });

  // What the proxy does decides, where it was measured; else what its config says.
  const conf = chain.conf;
  const proxyTimeoutMs = proxyIdleClose && 'medianMs' in proxyIdleClose ? proxyIdleClose.medianMs : conf.keepaliveTimeoutMs;
  const base = resultBase(run, { proxy, conf, proxyIdleClose, upstream, probe, capacity });
  const finish = (verdict: Verdict, decisive: GateResult['decisive'], trials: BurstTrial[]) =>
    gateResult(run, { base, chain, tagTrials, history, probe, conf }, verdict, decisive, trials);

  if (conf.noReuseReason) return finish({ outcome: 'pass', reason: conf.noReuseReason, interval: [0, 1], decidingLook: null }, { boundary: 'none', atMs: null, gapsMs: [] }, []);
  const decided = decisiveClose({ gate: run.flavour.gate, probe, probeWaitMs, proxyIdleClose, proxyTimeoutMs, maxIdleWaitMs: options.maxIdleWaitMs, minMarginMs: options.minMarginMs });
  if ('verdict' in decided) return finish(decided.verdict, decided.decisive, []);
  const { decisive } = decided;
  const ports = await startCopies(run, chain, burstSize, decisive.atMs!);
  base.proxy.copies = ports.length;
  if (options.capture && options.out && history) await captureBursts(run, options.out, history, [...ports.map((port) => ({ role: 'proxy' as const, host: '127.0.0.1', port })), ...chain.wire]);
  history?.append({ type: 'gate-setup', proxy: base.proxy, upstream: base.upstream, decisive, faults: options.faults, maxFailureRate: options.maxFailureRate,
    confidence: options.confidence, trialsNeededToPass: base.trialsNeededToPass });
  say(`firing bursts of ${burstSize} at the ${decisive.boundary}'s close (${decisive.atMs!.toFixed(1)} ms idle) through ${ports.length} cop${ports.length === 1 ? 'y' : 'ies'} of the proxy; a pass needs ${base.trialsNeededToPass} trials at this limit`);
  const firing = await fireUntilDecided({
    design: run.design, chain, ports, burstSize, decisive, started: run.started, maxSeconds: options.maxSeconds, seed: options.seed, method: options.method,
    allowMasked: options.allowMasked ?? false, requestVia: (host) => (id) => buildRequest(options, host, tagTrials ? id : null), history, say,
  });
  const verdict = firedVerdict({ firing, final: chain.evidenceOf(firing.trials), decisive, maxFailureRate: options.maxFailureRate, confidence: options.confidence,
    maxSeconds: options.maxSeconds, trialsNeededToPass: base.trialsNeededToPass, lastLookTrials: run.design.looks.at(-1)!.trials, tagTrials, allowMasked: options.allowMasked ?? false });
  return finish(verdict, decisive, firing.trials);
}

/** tcpdump on the chain's ports (the proxy's copies, the tap, the faults, the upstream) for the bursts, stopped first. */
async function captureBursts(run: GateRun, out: string, history: HistorySink<GateHistoryRecord>, listeners: WireListener[]): Promise<void> {
  const capture = await startWireCapture({ iface: 'lo', listeners }, out, 'gate', history, ringFor(run.options.captureLimit ?? DEFAULT_CAPTURE_LIMIT_MB));
  run.stops.push(capture.stop);
}

function proxySettingsOf(options: GateOptions): GateProxySettings {
  return {
    ...(options.proxyConf ? { confPath: options.proxyConf } : {}),
    ...(options.pool ? { pool: options.pool } : {}),
    ...(options.proxyTimeoutMs !== undefined ? { proxyTimeoutMs: options.proxyTimeoutMs } : {}),
    retry: options.retry ?? 'default',
    ...(options.proxyBin ? { binary: options.proxyBin } : {}),
    allowConfigCode: options.allowConfigCode ?? false,
  };
}

function readUserConf(confPath: string | undefined, flavour: GateReadyFlavour): string | null {
  if (!confPath) return null;
  try {
    return fs.readFileSync(confPath, 'utf8');
  } catch (error) {
    throw new UsageError(`${flavour.gate.confFlag}: cannot read ${confPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The user's upstream, started (or found), healthy, and the burst it takes at once. */
async function startUpstream(run: GateRun, checked: PreparedProxyConf): Promise<{ upstream: UserUpstream; tagTrials: boolean; capacity: AcceptCapacity | null; burstSize: number }> {
  const { options } = run;
  // A burst larger than the pool would open new connections, which cannot meet a close.
  const poolBurst = options.burstSize ?? Math.max(1, Math.min(32, checked.keepaliveConnections ?? 32));
  const upstream: UserUpstream = options.upstreamCmd ? await startUpstreamCommand(options.upstreamCmd, options.upstreamEnv)
    : options.upstreamImage ? await (await upstreamImages()).startUpstreamImage(options.upstreamImage, options.upstreamPort!, options.upstreamEnv ?? {})
      : await upstreamAtUrl(options.upstreamUrl!);
  run.stops.push(upstream.stop);
  // Requests carry their trial's id in the query (t=ID), so that the proxy's log lines name the
  // trial; an application that refuses an unknown query parameter gets the plain path instead.
  const tagTrials = await healthCheck(upstream, options);
  // Bursts no larger than the upstream takes at once (unless --burst says): see accept-capacity.ts.
  const capacity = options.burstSize === undefined
    ? await acceptCapacity(upstream.endpoint, buildRequest(options, hostPort(upstream.endpoint.host, upstream.endpoint.port), null), poolBurst) : null;
  const burstSize = capacity?.burst ?? poolBurst;
  if (capacity?.heldUpAt) run.say(`bursts of ${burstSize}: the upstream answered ${capacity.heldUpAt} new connections at once only after ${describeMs(capacity.heldUpMs)} (a short accept queue)`);
  return { upstream, tagTrials, capacity, burstSize };
}

/**
 * The proxy's idle close as it really happens, where waiting for it is short enough: its config
 * says what it should do, this says what it does. (After every bad-input check: a bad input is
 * one line, with no progress said before it.)
 */
async function measureProxyClose(run: GateRun, proxy: GateProxy, checked: PreparedProxyConf, listenPort: number, burstSize: number): Promise<ProxyIdleClose | ProxyKeptIdle | null> {
  if (checked.noReuseReason || checked.keepaliveTimeoutMs > run.options.maxIdleWaitMs) return null;
  run.say(`measuring the proxy's own idle close (configured ${checked.keepaliveTimeoutMs} ms)`);
  return measureProxyIdleClose(proxy, { listenPort, burst: burstSize, request: (host) => buildRequest(run.options, host, null), waitMs: checked.keepaliveTimeoutMs + 3_000, workDir: run.prefix });
}

/**
 * The upstream's real idle close, measured on its own (no proxy in the way). Waiting past the
 * proxy's timeout plus the margin the order needs tells nothing more: an upstream still open
 * then outlasts the proxy by the margin (65 s behind 60 s waits 61.5 s, not 65 s).
 */
async function probeUpstream(run: GateRun, upstream: UserUpstream, checked: PreparedProxyConf, burstSize: number): Promise<{ probe: ProbeResult | null; probeWaitMs: number }> {
  const { options } = run;
  const probeWaitMs = Math.min(checked.keepaliveTimeoutMs, 600_000) + options.minMarginMs + PROBE_WAIT_PAST_MARGIN_MS;
  run.say(`probing ${upstream.label}: when does it close an idle connection?`);
  try {
    // Opened a burst at a time: no more new connections at once than the upstream takes.
    const probe = await probeIdleClose(upstream.endpoint, { samples: PROBE_SAMPLES, concurrency: PROBE_SAMPLES, openAtOnce: burstSize, path: options.healthPath, maxWaitMs: probeWaitMs });
    return { probe, probeWaitMs };
  } catch (error) {
    if (!/closed no idle connection/.test((error as Error).message)) throw error;
    // It kept every connection open past the proxy's limit: it outlasts the proxy.
    return { probe: null, probeWaitMs };
  }
}

/**
 * Copies of the prepared config, each its own process and pool, fire side by side so that a
 * long idle time still gives trials quickly: the user's proxy semantics stay exact (the same
 * config), only more of it runs. A config with a fixed listen port runs once. Their ports.
 */
async function startCopies(run: GateRun, chain: GateChain, burstSize: number, idleMs: number): Promise<number[]> {
  const copies = chain.conf.listenFromConfig ? 1 : copiesFor(idleMs, burstSize);
  const ports = [chain.conf.listenPort];
  for (let copy = 1; copy < copies; copy++) {
    const copyPrefix = path.join(run.prefix, `copy-${copy}`);
    fs.mkdirSync(copyPrefix);
    const copyProxy = gateProxy(run.flavour, run.proxySettings, run.userConfText, copyPrefix, run.cutShort);
    const copyConf = copyProxy.prepare(chain.upstreamAddress, await freePort(), burstSize);
    const running = await copyProxy.start(copyConf, chain.onProxyRecord).catch((error: Error) => {
      throw error instanceof UsageError ? error : new UsageError(`a copy of the proxy did not start: ${error.message}`);
    });
    run.stops.push(running.stop);
    ports.push(copyConf.listenPort);
  }
  return ports;
}

type ResultBase = Pick<GateResult, 'proxy' | 'upstream' | 'faults' | 'maxFailureRate' | 'confidence' | 'trialsNeededToPass'>;

/** What a result says of the setup, whatever the verdict. */
function resultBase(run: GateRun, measured: { proxy: GateProxy; conf: PreparedProxyConf; proxyIdleClose: ProxyIdleClose | ProxyKeptIdle | null; upstream: UserUpstream; probe: ProbeResult | null; capacity: AcceptCapacity | null }): ResultBase {
  const { options, flavour } = run;
  const { conf } = measured;
  return {
    proxy: { flavour: flavour.name, label: options.proxyConf ?? `${flavour.title} rendered, ${flavour.gate.idleDirective} ${conf.keepaliveTimeoutMs} ms`, version: measured.proxy.version,
      upstreamBlock: conf.upstreamBlock, keepaliveTimeoutMs: conf.keepaliveTimeoutMs, keepaliveTimeoutFromConfig: conf.keepaliveTimeoutFromConfig,
      keepaliveConnections: conf.keepaliveConnections, ...(conf.keepaliveFromDefault ? { keepaliveFromDefault: true } : {}), proxyNextUpstream: conf.proxyNextUpstream, retrySetting: conf.retrySetting,
      keepaliveTimeoutMeasured: measured.proxyIdleClose, copies: 1 },
    upstream: { label: measured.upstream.label, probe: measured.probe && withoutSamples(measured.probe), closesIdle: measured.probe !== null, acceptCapacity: measured.capacity },
    faults: options.faults,
    maxFailureRate: options.maxFailureRate,
    confidence: options.confidence,
    trialsNeededToPass: run.design.trialsToPass,
  };
}

interface ResultParts {
  base: ResultBase;
  chain: GateChain;
  tagTrials: boolean;
  history: HistorySink<GateHistoryRecord> | null;
  probe: ProbeResult | null;
  conf: PreparedProxyConf;
}

/** The result of a run from its verdict and trials, written to the history as the verdict record. */
function gateResult(run: GateRun, parts: ResultParts, verdict: Verdict, decisive: GateResult['decisive'], trials: BurstTrial[]): GateResult {
  const { options, flavour } = run;
  const { chain, probe, conf } = parts;
  const errorClasses: Record<string, number> = {};
  for (const trial of trials) errorClasses[trial.errorClass] = (errorClasses[trial.errorClass] ?? 0) + 1;
  const failures = trials.length - (errorClasses.ok ?? 0);
  const evidence = chain.evidenceOf(trials);
  const { outcome } = verdict;
  // The fix where the race was seen: a fail, or an undecided run that met the race (not one
  // stopped by other failures, nor a safe pairing that ran out of time).
  const showFix = outcome === 'fail' || (outcome === 'undecided' && (evidence.race > 0 || evidence.masked > 0));
  const proxyLabel = options.proxyConf ? `${flavour.title} (${path.basename(options.proxyConf)})` : flavour.title;
  const fix = probe && showFix ? recommendFix({ proxyLabel, proxyFlavour: flavour.name, upstreamBlock: options.proxyConf ? conf.upstreamBlock : null,
    proxyTimeoutMs: conf.keepaliveTimeoutMs, upstreamCloseMs: probe.medianCloseMs, upstreamCloseP5Ms: probe.p5CloseMs }) : null;
  const failureKind = outcome === 'pass' ? null : outcome === 'undecided' ? 'undecided' : evidence.race === 0 && evidence.masked > 0 ? 'masked' : 'client';
  const result: GateResult = {
    ...parts.base, outcome, reason: verdict.reason, decisive, trials: trials.length, failures, status502: errorClasses['502'] ?? 0, errorClasses,
    raceFailures: evidence.race, otherFailures: evidence.other, maskedAttempts: evidence.masked, failureKind,
    upstreamConnections: parts.tagTrials ? chain.trialConnections.tally(trials.map((trial) => trial.id)) : null,
    failureRate: trials.length === 0 ? 0 : failures / trials.length, decisionInterval: verdict.interval, failureRateCi95: wilsonInterval(failures, trials.length, 0.95),
    decidingLook: verdict.decidingLook, proxyLog: chain.proxyLog, proxyLogSamples: chain.proxyLogSamples, fix, seconds: (Date.now() - run.started) / 1000, runDir: options.out ?? null,
    ...atTraffic(options, decisive, conf, trials),
  };
  parts.history?.append({ type: 'gate-verdict', result });
  return result;
}

/** With --traffic: the window the bursts measured, at that traffic through the config's pool. */
function atTraffic(options: GateOptions, decisive: GateResult['decisive'], conf: PreparedProxyConf, trials: readonly BurstTrial[]): Pick<GateResult, 'atTraffic'> {
  if (options.traffic === undefined || decisive.boundary !== 'upstream' || decisive.atMs === null || trials.length === 0) return {};
  const records = trials.map((trial) => gateTrialRecord(trial, 'upstream', decisive.atMs!, options.method));
  const window = { ...windowOf(records, undefined, decisive.atMs), proxyCloseMs: conf.keepaliveTimeoutMs };
  return { atTraffic: predictFailures(window, parseTraffic(options.traffic), { pool: conf.keepaliveConnections ?? DEFAULT_POOL, workers: 1, answerMs: answerMsOf(records) }) };
}

const describeMs = (ms: number | null) => (ms === null ? 'its timeout' : `${ms.toFixed(0)} ms`);

/** The options as the run record keeps them: settings, not callbacks. */
function settingsOf(options: GateOptions): Record<string, unknown> {
  const { onProgress: _onProgress, ...settings } = options;
  return settings;
}

function withoutSamples(probe: ProbeResult): Omit<ProbeResult, 'closeTimesMs'> {
  const { closeTimesMs: _samples, ...summary } = probe;
  return summary;
}

/** The --upstream-image code, loaded when a gate uses it: it runs on testcontainers (load-containers.ts). */
function upstreamImages(): Promise<typeof import('./user-upstream-image.js')> {
  return withTestcontainers('--upstream-image', () => import('./user-upstream-image.js'));
}
