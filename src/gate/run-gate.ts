// The deploy gate: the user's proxy config in front of the user's upstream, both idle closes
// found, timed bursts at the close that decides, and a pass/fail with its evidence and fix.
// Everything it starts is stopped on every path (the cleanup registry, and the reaper for kill -9).
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFaultSpec, type Fault } from '../faults/fault.js';
import type { ProxyLogReason, ProxyLogRecord } from '../history/records.js';
import { probeIdleClose, type ProbeResult } from '../probe/probe.js';
import type { BoundaryKind, ProxyName, RetryPolicy } from '../vocabulary.js';
import { proxyFlavour } from '../proxy/registry.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { createFaultProxy } from '../toxiproxy/fault-proxy.js';
import { startLocalToxiproxy } from '../toxiproxy/local-toxiproxy.js';
import { isShuttingDown, onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { freePort, hostPort } from '../util/ports.js';
import { reapDirOnExit } from '../util/reaper.js';
import { exactBounds, quantile, wilsonInterval } from '../util/stats.js';
import { HttpConnection } from '../workload/http-connection.js';
import { runBursts, type BurstTrial } from './boundary-bursts.js';
import { recommendFix, type Fix, type GateOutcome } from './gate-decision.js';
import { describeOther, failureEvidence, otherCount, tapFailureEvidence } from './failure-evidence.js';
import { startConnectionTap } from './tap/connection-tap.js';
import { TrialConnectionIndex } from './tap/trial-connections.js';
import { gateFlavour, gateProxy } from './gate-proxy.js';
import { decideAt, sequentialDesign, type Look } from './sequential-design.js';
import { measureProxyIdleClose, type ProxyIdleClose, type ProxyKeptIdle } from './proxy-idle-probe.js';
import { acceptCapacity } from './accept-capacity.js';
import { gateTrialRecord, openGateHistory } from './gate-history.js';
import type { GateResult } from './gate-result.js';
import { writeGateOutputs } from './gate-run-report.js';
import { startUpstreamCommand, upstreamAtUrl, type UserUpstream } from './user-upstream.js';
import { checkUpstreamImage, startUpstreamImage } from './user-upstream-image.js';

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
  /** The run directory (trials.jsonl, summary.json, report.md, report.html); unset: none. */
  out?: string;
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
const MAX_COPIES = 16;

/** How many copies of the proxy keep ~TARGET_TRIALS_PER_SECOND at this idle time: one burst each per idle period. */
export function copiesFor(idleMs: number, burstSize: number): number {
  return Math.max(1, Math.min(MAX_COPIES, Math.ceil((TARGET_TRIALS_PER_SECOND * idleMs) / 1000 / burstSize)));
}

/** How long a burst's judgement waits for the proxy's log lines of that burst. */
const LOG_CATCH_UP_MS = 20;
/** Failures that are not the race beyond this share of the trials (and 5) stop the run undecided. */
const DISTURBED_SHARE = 0.05;

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

async function measureGate(options: GateOptions): Promise<GateResult> {
  const started = Date.now();
  const monotonicAtStart = Number(process.hrtime.bigint()) / 1e6;
  const say = options.onProgress ?? (() => {});
  // When to look and what decides, from the limit and confidence alone (before anything starts).
  const design = sequentialDesign(options.maxFailureRate, options.confidence);
  // Everything that can be checked without starting anything, first.
  const flavour = gateFlavour(proxyFlavour(options.proxy));
  const confPath = options.proxyConf;
  const confFlag = flavour.gate.confFlag;
  // Validated with the rest of the input (gate-input.ts); here only turned into faults.
  const faults: Fault[] = options.faults.map((spec) => parseFaultSpec(spec));
  let userConfText: string | null = null;
  if (confPath) {
    try {
      userConfText = fs.readFileSync(confPath, 'utf8');
    } catch (error) {
      throw new UsageError(`${confFlag}: cannot read ${confPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'keepalive-lab-gate-'));
  const forgetDir = reapDirOnExit(prefix);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = onCleanup(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    fs.rmSync(prefix, { recursive: true, force: true });
    forgetDir();
  });
  try {
    const proxySettings = {
      ...(confPath ? { confPath } : {}),
      ...(options.pool ? { pool: options.pool } : {}),
      ...(options.proxyTimeoutMs !== undefined ? { proxyTimeoutMs: options.proxyTimeoutMs } : {}),
      retry: options.retry ?? 'default',
      ...(options.proxyBin ? { binary: options.proxyBin } : {}),
    };
    const proxy = gateProxy(flavour, proxySettings, userConfText, prefix);
    // The proxy config is checked before anything starts (with a stand-in upstream address):
    // a syntax error, a missing block or a busy port is one line, and nothing ran.
    const listenPort = await freePort();
    const checked = proxy.prepare('127.0.0.1:9', listenPort, options.burstSize ?? 32);
    await proxy.check(checked);
    if (options.upstreamImage) await checkUpstreamImage(options.upstreamImage);
    // A burst larger than the pool would open new connections, which cannot meet a close.
    const poolBurst = options.burstSize ?? Math.max(1, Math.min(32, checked.keepaliveConnections ?? 32));
    const upstream: UserUpstream = options.upstreamCmd ? await startUpstreamCommand(options.upstreamCmd, options.upstreamEnv)
      : options.upstreamImage ? await startUpstreamImage(options.upstreamImage, options.upstreamPort!, options.upstreamEnv ?? {})
        : await upstreamAtUrl(options.upstreamUrl!);
    stops.push(upstream.stop);
    // Requests carry their trial's id in the query (t=ID), so that the proxy's log lines name the
    // trial; an application that refuses an unknown query parameter gets the plain path instead.
    const tagTrials = await healthCheck(upstream, options);
    // Bursts no larger than the upstream takes at once (unless --burst says): see accept-capacity.ts.
    const capacity = options.burstSize === undefined
      ? await acceptCapacity(upstream.endpoint, buildRequest(options, hostPort(upstream.endpoint.host, upstream.endpoint.port), null), poolBurst) : null;
    const burstSize = capacity?.burst ?? poolBurst;
    if (capacity?.heldUpAt) say(`bursts of ${burstSize}: the upstream answered ${capacity.heldUpAt} new connections at once only after ${describeMs(capacity.heldUpMs)} (a short accept queue)`);
    const requestVia = (host: string) => (id: string) => buildRequest(options, host, tagTrials ? id : null);

    // From here on the run measures: its directory holds everything as it is measured.
    const history = options.out ? openGateHistory(options.out) : null;
    if (history) {
      stops.unshift(() => history.close());
      history.append({ type: 'run', startedAt: new Date(started).toISOString(), monotonicAtStart, runtime: 'local', proxy: flavour.name,
        versions: { [flavour.name]: proxy.version, node: process.version }, settings: { command: 'gate', ...settingsOf(options), trialsTagged: tagTrials } });
    }

    // The proxy's idle close as it really happens, where waiting for it is short enough: its
    // config says what it should do, this says what it does. (After every bad-input check: a
    // bad input is one line, with no progress said before it.)
    let proxyIdleClose: ProxyIdleClose | ProxyKeptIdle | null = null;
    if (!checked.noReuseReason && checked.keepaliveTimeoutMs <= options.maxIdleWaitMs) {
      say(`measuring the proxy's own idle close (configured ${checked.keepaliveTimeoutMs} ms)`);
      proxyIdleClose = await measureProxyIdleClose(proxy, { listenPort, burst: burstSize, request: (host) => buildRequest(options, host, null), waitMs: checked.keepaliveTimeoutMs + 3_000, workDir: prefix });
    }

    // The upstream's real idle close, measured on its own (no proxy in the way). Waiting past
    // the proxy's timeout plus the margin the order needs tells nothing more: an upstream still
    // open then outlasts the proxy by the margin (65 s behind 60 s waits 61.5 s, not 65 s).
    const proxyTimeoutHint = checked.keepaliveTimeoutMs;
    const probeWaitMs = Math.min(proxyTimeoutHint, 600_000) + options.minMarginMs + PROBE_WAIT_PAST_MARGIN_MS;
    say(`probing ${upstream.label}: when does it close an idle connection?`);
    let probe: ProbeResult | null = null;
    try {
      // Opened a burst at a time: no more new connections at once than the upstream takes.
      probe = await probeIdleClose(upstream.endpoint, { samples: PROBE_SAMPLES, concurrency: PROBE_SAMPLES, openAtOnce: burstSize, path: options.healthPath, maxWaitMs: probeWaitMs });
    } catch (error) {
      if (!/closed no idle connection/.test((error as Error).message)) throw error;
      // It kept every connection open past the proxy's limit: it outlasts the proxy.
    }

    // The chain: nginx -> the connection tap -> [Toxiproxy with the faults] -> upstream. The tap
    // records each proxy-to-upstream connection, so that every trial says whether it reused one
    // and whether its connection closed under the request (tap/connection-tap.ts). Next to the
    // proxy, it sees requests and closes when the proxy does, after any fault's delay.
    let faultAddress: string | null = null;
    if (faults.length > 0) {
      const toxiproxy = await startLocalToxiproxy();
      stops.push(toxiproxy.stop);
      faultAddress = await createFaultProxy(toxiproxy.url, hostPort(upstream.endpoint.host, upstream.endpoint.port), faults);
    }
    const tap = await startConnectionTap(faultAddress ? endpointOf(faultAddress) : upstream.endpoint);
    stops.push(tap.stop);
    // The upstream's idle closes as the probe saw them, widened by what the faults add (a latency
    // fault moves the answer or the close as the tap sees them): a close at such an idle time is
    // the idle close, however long the fault held the request (trial-connections.ts).
    const faultLatencyMs = faults.filter((fault) => fault.type === 'latency').reduce((sum, fault) => sum + (fault.attributes.latency ?? 0) + (fault.attributes.jitter ?? 0), 0);
    const trialConnections = new TrialConnectionIndex(probe
      ? { idleCloseMs: [quantile(probe.closeTimesMs, 0.01) - 2 - faultLatencyMs, quantile(probe.closeTimesMs, 0.99) + 2 + faultLatencyMs] }
      : {});
    tap.onEvents((events) => {
      trialConnections.add(events);
      for (const event of events) history?.append({ type: 'upstream', ...event });
    });
    const upstreamAddress = tap.address;
    const conf = proxy.prepare(upstreamAddress, listenPort, burstSize);
    const proxyLog: Partial<Record<ProxyLogReason, number>> = {};
    let clientGaveUp = false;
    const racingTrials = (trials: readonly BurstTrial[]) => (tagTrials ? trials.filter((trial) => trialConnections.of(trial.id)?.attempts[0]?.reused === true) : trials);
    // With trial ids in the requests the tap's record of each trial decides; without, the proxy's log.
    const evidenceOf = (trials: readonly BurstTrial[]) => (tagTrials
      ? tapFailureEvidence(trials, (id) => trialConnections.of(id), clientGaveUp)
      : failureEvidence(trials, proxyLog, flavour.gate.raceAnswer, clientGaveUp));
    const proxyLogSamples: Partial<Record<ProxyLogReason, string>> = {};
    const onProxyRecord = (record: ProxyLogRecord) => {
      proxyLog[record.reason] = (proxyLog[record.reason] ?? 0) + 1;
      proxyLogSamples[record.reason] ??= record.message;
      if (/client prematurely closed connection/.test(record.message)) clientGaveUp = true;
      history?.append(record);
    };
    const runningProxy = await proxy.start(conf, onProxyRecord).catch((error: Error) => { throw new UsageError(`the proxy did not start: ${error.message}`); });
    stops.push(runningProxy.stop);

    // What the proxy does decides, where it was measured; else what its config says.
    const proxyTimeoutMs = proxyIdleClose && 'medianMs' in proxyIdleClose ? proxyIdleClose.medianMs : conf.keepaliveTimeoutMs;
    const configuredTimeoutMs = conf.keepaliveTimeoutMs;
    const proxyLabel = confPath ? `${flavour.title} (${path.basename(confPath)})` : flavour.title;
    const base = {
      proxy: { flavour: flavour.name, label: confPath ?? `${flavour.title} rendered, ${flavour.gate.idleDirective} ${configuredTimeoutMs} ms`, version: proxy.version, upstreamBlock: conf.upstreamBlock, keepaliveTimeoutMs: configuredTimeoutMs,
        keepaliveTimeoutFromConfig: conf.keepaliveTimeoutFromConfig, keepaliveConnections: conf.keepaliveConnections, proxyNextUpstream: conf.proxyNextUpstream,
        retrySetting: conf.retrySetting, keepaliveTimeoutMeasured: proxyIdleClose, copies: 1 },
      upstream: { label: upstream.label, probe: probe && withoutSamples(probe), closesIdle: probe !== null, acceptCapacity: capacity },
      faults: options.faults,
      maxFailureRate: options.maxFailureRate,
      confidence: options.confidence,
      trialsNeededToPass: design.trialsToPass,
    };
    const fix = probe ? recommendFix({ proxyLabel, proxyFlavour: flavour.name, upstreamBlock: confPath ? conf.upstreamBlock : null, proxyTimeoutMs: configuredTimeoutMs, upstreamCloseMs: probe.medianCloseMs, upstreamCloseP5Ms: probe.p5CloseMs }) : null;
    const finish = (outcome: GateOutcome, reason: string, decisive: GateResult['decisive'], trials: BurstTrial[], decisionInterval: [number, number],
      decidingLook: GateResult['decidingLook'] = null): GateResult => {
      const errorClasses: Record<string, number> = {};
      for (const trial of trials) errorClasses[trial.errorClass] = (errorClasses[trial.errorClass] ?? 0) + 1;
      const failures = trials.length - (errorClasses.ok ?? 0);
      const evidence = evidenceOf(trials);
      // The fix where the race was seen: a fail, or an undecided run that met the race (not one
      // stopped by other failures, nor a safe pairing that ran out of time).
      const showFix = outcome === 'fail' || (outcome === 'undecided' && (evidence.race > 0 || evidence.masked > 0));
      const failureKind = outcome === 'pass' ? null : outcome === 'undecided' ? 'undecided' : evidence.race === 0 && evidence.masked > 0 ? 'masked' : 'client';
      const result: GateResult = {
        ...base, outcome, reason, decisive, trials: trials.length, failures, status502: errorClasses['502'] ?? 0, errorClasses,
        raceFailures: evidence.race, otherFailures: evidence.other, maskedAttempts: evidence.masked, failureKind,
        upstreamConnections: tagTrials ? trialConnections.tally(trials.map((trial) => trial.id)) : null,
        failureRate: trials.length === 0 ? 0 : failures / trials.length, decisionInterval, failureRateCi95: wilsonInterval(failures, trials.length, 0.95),
        decidingLook, proxyLog, proxyLogSamples, fix: showFix ? fix : null, seconds: (Date.now() - started) / 1000, runDir: options.out ?? null,
      };
      history?.append({ type: 'gate-verdict', result });
      return result;
    };

    if (conf.noReuseReason) return finish('pass', conf.noReuseReason, { boundary: 'none', atMs: null, gapsMs: [] }, [], [0, 1]);
    // Which close decides: the upstream's when it comes first, else the proxy's own.
    let decisive: GateResult['decisive'];
    if (probe && probe.medianCloseMs <= proxyTimeoutMs) {
      // Aim across the whole measured spread of the upstream's closes (p1 to p99, with a margin),
      // so that a spread close is met as often as an exact one, not only at its median.
      const closes = probe.closeTimesMs;
      decisive = { boundary: 'upstream', atMs: probe.medianCloseMs, gapsMs: gapsAround(quantile(closes, 0.01) - 2, quantile(closes, 0.99) + 1) };
    } else if (proxyTimeoutMs <= options.maxIdleWaitMs && flavour.gate.ownCloseNotFiredBecause === null) {
      // (Where the flavour says why not, e.g. HAProxy's idle timeout closes the client's
      // connection too: bursts at it would measure the gate's own client racing the proxy, not
      // the proxy-to-upstream hop. Judged by order.)
      // Only at gaps where the proxy still holds its idle connections: a request after the proxy's
      // close goes out on a new connection, which says nothing about the race (and a burst of
      // them is a connection storm into the upstream's accept queue). So from 4 ms before to
      // just under its earliest measured closes (p5), where every trial reuses a connection.
      const lastReusedMs = proxyIdleClose && 'p5Ms' in proxyIdleClose ? proxyIdleClose.p5Ms - 0.5 : proxyTimeoutMs - 1;
      decisive = { boundary: 'proxy', atMs: proxyTimeoutMs, gapsMs: gapsAround(lastReusedMs - 4, lastReusedMs) };
    } else {
      // Waiting out a long proxy timeout per burst would take hours: judge by the measured order.
      const marginMs = probe ? probe.p5CloseMs - proxyTimeoutMs : Infinity;
      const order = { boundary: 'order' as const, atMs: proxyTimeoutMs, gapsMs: [] };
      const whyNotFired = flavour.gate.ownCloseNotFiredBecause ?? `each burst would wait ${proxyTimeoutMs / 1000} s`;
      const upstreamSays = probe ? `its earliest idle closes (p5) at ${probe.p5CloseMs.toFixed(1)} ms` : `it kept idle connections open past ${probeWaitMs} ms`;
      // The order proves something only if the proxy really lets idle connections go at its
      // timeout. HAProxy was measured to keep them in its idle pool after the client's session
      // ends (2.6: 70 s and counting after a 2 s timeout), where later requests of other
      // sessions may take them: unless its closes were measured, its timeout bounds nothing.
      const outlives = flavour.gate.poolOutlivesTimeout;
      if (outlives && !(proxyIdleClose && 'medianMs' in proxyIdleClose)) {
        const seen = proxyIdleClose ? `it closed none of ${proxyIdleClose.connections} idle server connections within ${proxyIdleClose.keptOpenMs} ms` : `its idle close was not measured (longer than --max-idle-wait ${options.maxIdleWaitMs} ms)`;
        return finish('undecided', outlives.undecided(proxyTimeoutMs, seen, upstreamSays), order, [], [0, 1]);
      }
      return marginMs >= options.minMarginMs
        ? finish('pass', `the proxy drops idle connections at ${proxyTimeoutMs} ms, before the upstream (${upstreamSays}), by ${Number.isFinite(marginMs) ? `${marginMs.toFixed(0)} ms` : 'more than the probe waited'} >= ${options.minMarginMs} ms; not fired (${whyNotFired})`, order, [], [0, 1])
        : finish('fail', `the upstream's earliest idle closes (p5 ${probe!.p5CloseMs.toFixed(1)} ms) come only ${marginMs.toFixed(0)} ms after the proxy's ${proxyTimeoutMs} ms: less than the ${options.minMarginMs} ms margin`, order, [], [0, 1]);
    }
    // Copies of the prepared config, each its own process and pool, fire side by side so that a
    // long idle time still gives trials quickly: the user's proxy semantics stay exact (the same
    // config), only more of it runs. A config with a fixed listen port runs once.
    const copies = conf.listenFromConfig ? 1 : copiesFor(decisive.atMs!, burstSize);
    const ports = [conf.listenPort];
    for (let copy = 1; copy < copies; copy++) {
      const copyPrefix = path.join(prefix, `copy-${copy}`);
      fs.mkdirSync(copyPrefix);
      const copyProxy = gateProxy(flavour, proxySettings, userConfText, copyPrefix);
      const copyConf = copyProxy.prepare(upstreamAddress, await freePort(), burstSize);
      const running = await copyProxy.start(copyConf, onProxyRecord).catch((error: Error) => { throw new UsageError(`a copy of the proxy did not start: ${error.message}`); });
      stops.push(running.stop);
      ports.push(copyConf.listenPort);
    }
    base.proxy.copies = copies;
    history?.append({ type: 'gate-setup', proxy: base.proxy, upstream: base.upstream, decisive, faults: options.faults, maxFailureRate: options.maxFailureRate,
      confidence: options.confidence, trialsNeededToPass: base.trialsNeededToPass });
    say(`firing bursts of ${burstSize} at the ${decisive.boundary}'s close (${decisive.atMs!.toFixed(1)} ms idle) through ${copies} cop${copies === 1 ? 'y' : 'ies'} of the proxy; a pass needs ${base.trialsNeededToPass} trials at this limit`);
    // The design looks at exact trial counts: a look decides on the first N trials fired (the
    // rest counts at the next look). Trials of all copies join one tally in the order they end.
    let nextLook = 0;
    let outcome = 'undecided' as GateOutcome;
    let deciding: { look: Look; failures: number } | null = null;
    let maskedAt: { trials: number; masked: number } | null = null;
    let disturbedAt: { trials: number; other: Record<string, number> } | null = null;
    const trials: BurstTrial[] = [];
    const seenOfCopy = ports.map(() => 0);
    let done = false;
    const decisionMade = new AbortController();
    // Every copy listens for the decision: more than Node's default of 10 listeners, on purpose.
    setMaxListeners(MAX_COPIES + 1, decisionMade.signal);
    const decision = new Promise<void>((resolve) => decisionMade.signal.addEventListener('abort', () => resolve(), { once: true }));
    const judge = (sofar: readonly BurstTrial[]): boolean => {
      // A raced attempt the proxy retried is evidence of the race as good as a failure: the
      // same request as a POST, or through a proxy that does not retry, would have failed.
      const evidence = evidenceOf(sofar);
      if (evidence.masked > 0 && !options.allowMasked) {
        maskedAt = { trials: sofar.length, masked: evidence.masked };
        outcome = 'fail';
        return true;
      }
      // Failures that are not the race do not decide, but too many of them leave the run
      // unable to say anything: its requests are failing for another reason.
      if (otherCount(evidence.other) > Math.max(5, DISTURBED_SHARE * sofar.length)) {
        disturbedAt = { trials: sofar.length, other: evidence.other };
        return true;
      }
      // Only a request that reused an idle upstream connection can meet its close: one the proxy
      // sent on a connection it opened for it is no evidence either way, and the looks count
      // without it (the tap tells them apart; without trial ids, every request counts).
      const counted = racingTrials(sofar);
      while (nextLook < design.looks.length && counted.length >= design.looks[nextLook]!.trials) {
        const look = design.looks[nextLook++]!;
        // Only the race decides: failures with another cause are shown apart.
        const failures = evidenceOf(counted.slice(0, look.trials)).race;
        deciding = { look, failures };
        outcome = decideAt(design, { trials: look.trials, failures }).outcome;
        say(`look ${nextLook} of ${design.looks.length}: ${failures} of ${look.trials} failed by the race (pass at <= ${look.passAtMost}, fail at >= ${look.failAtLeast}): ${outcome}`);
        if (outcome !== 'undecided') return true;
      }
      // Past the last look the design has spent its error: more trials cannot decide.
      return nextLook >= design.looks.length;
    };
    const runs = ports.map((port, copy) => runBursts({
      proxy: { host: '127.0.0.1', port },
      request: requestVia(`127.0.0.1:${port}`),
      firstLane: copy * burstSize,
      burstSize,
      gapsMs: decisive.gapsMs,
      seed: options.seed + copy,
      responseTimeoutMs: 10_000,
      deadline: started + options.maxSeconds * 1000,
      idPrefix: copies > 1 ? `c${copy}.` : '',
      // Spread over one idle period, so that the copies' bursts do not coincide.
      startDelayMs: (copy * decisive.atMs!) / copies,
      stopped: () => done,
      signal: decisionMade.signal,
      afterBurst: async (sofar) => {
        // After Ctrl-C a burst meets the teardown (a terminal's SIGINT reaches the proxy too),
        // not the race: it is not recorded.
        if (done || isShuttingDown()) return true;
        const fresh = sofar.slice(seenOfCopy[copy]);
        seenOfCopy[copy] = sofar.length;
        // The proxy writes its log line before its answer, but the harness may read the answer
        // first: let the log (and the tap's events, from its thread) catch up, so that a 502 is
        // judged with the attempt behind it.
        await new Promise((resolve) => setTimeout(resolve, LOG_CATCH_UP_MS));
        if (done || isShuttingDown()) return true;
        trials.push(...fresh);
        for (const trial of fresh) history?.append(gateTrialRecord(trial, decisive.boundary as BoundaryKind, decisive.atMs!, options.method, trialConnections.of(trial.id)));
        if (judge(trials)) {
          done = true;
          decisionMade.abort();
        }
        return done;
      },
    }));
    // The verdict does not wait for copies asleep until their next burst: they see `done` and end.
    await Promise.race([Promise.all(runs), decision]);
    done = true;
    decisionMade.abort();
    const failures = trials.filter((trial) => trial.errorClass !== 'ok').length;
    const final = evidenceOf(trials);
    const limit = `${(options.maxFailureRate * 100).toFixed(2)}%`;
    const decided = deciding as { look: Look; failures: number } | null;
    const interval: [number, number] = decided ? exactBounds(decided.failures, decided.look.trials, 1 - options.confidence) : [0, 1];
    const which = tagTrials ? 'requests that reused an idle upstream connection' : 'requests';
    const tally = decided ? `${decided.failures} of the first ${decided.look.trials} ${which} at the ${decisive.boundary}'s idle close failed by the race` : '';
    const excluded = otherCount(final.other) > 0 ? `; not the race, and not counted: ${describeOther(final.other)}` : '';
    const disturbed = disturbedAt as { trials: number; other: Record<string, number> } | null;
    if (disturbed) {
      return finish('undecided', `${otherCount(disturbed.other)} of the first ${disturbed.trials} requests failed for reasons that are not the keep-alive race (${describeOther(disturbed.other)}): ` +
        'the run cannot tell whether the pairing races; fix those first (or check --health-path, --method and the upstream\'s capacity)', decisive, trials, [0, 1]);
    }
    const maskedEvidence = maskedAt as { trials: number; masked: number } | null;
    if (maskedEvidence) {
      const reason = `${maskedEvidence.masked} upstream attempt${maskedEvidence.masked === 1 ? '' : 's'} raced and ${maskedEvidence.masked === 1 ? 'was' : 'were'} retried by the proxy within the first ${maskedEvidence.trials} requests ` +
        `at the ${decisive.boundary}'s idle close (${failures} failed at the client): a POST, or a proxy that does not retry, would have failed; --allow-masked (allowMasked in a call) accepts the retries`;
      return finish('fail', reason, decisive, trials, [0, 1]);
    }
    const reason = outcome === 'fail'
      ? `${tally}: the failure rate is above ${limit} (its lower bound ${(interval[0] * 100).toFixed(2)}%)`
      : outcome === 'pass'
        ? `${tally}: the failure rate is below ${limit} (its upper bound ${(interval[1] * 100).toFixed(3)}%)`
        : nextLook >= design.looks.length
          ? `undecided after ${design.looks.at(-1)!.trials} trials: ${decided!.failures} failed, too many to pass at ${limit} and too few to fail; raise --max-failure-rate or look at the failures`
          : `undecided within ${options.maxSeconds} s: ${failures} of ${trials.length} failed; a pass at ${limit} needs ${base.trialsNeededToPass} trials: raise --max-seconds or --max-failure-rate`;
    const warning = options.allowMasked && outcome === 'pass' && final.masked > 0
      ? `; but ${final.masked} upstream attempts raced and were retried by the proxy (accepted with --allow-masked): requests it does not retry would fail` : '';
    return finish(outcome, reason + excluded + warning, decisive, trials, interval, decided ? { ...decided.look, failures: decided.failures } : null);
  } finally {
    await stopAll();
  }
}

/** Gaps (ms) every 0.5 ms across [from, to], on the 0.5 ms grid. */
export function gapsAround(fromMs: number, toMs: number): number[] {
  const gaps: number[] = [];
  for (let gap = Math.floor(fromMs * 2) / 2; gap <= toMs; gap += 0.5) gaps.push(gap);
  return gaps;
}

/** "host:port" as an endpoint. */
function endpointOf(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}

const describeMs = (ms: number | null) => (ms === null ? 'its timeout' : `${ms.toFixed(0)} ms`);

/** The request, with the trial's id in its query when `trialId` is given. */
function buildRequest(options: GateOptions, host: string, trialId: string | null): string {
  const body = options.body ?? '';
  const target = trialId === null ? options.healthPath : `${options.healthPath}${options.healthPath.includes('?') ? '&' : '?'}t=${encodeURIComponent(trialId)}`;
  const lines = [`${options.method} ${target} HTTP/1.1`, `Host: ${host}`, 'User-Agent: keepalive-lab-gate'];
  if (body || !['GET', 'HEAD'].includes(options.method)) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * The upstream must serve the request before anything is measured. Returns whether it serves it
 * with the trial id in the query too (most applications ignore a query parameter they do not know).
 */
async function healthCheck(upstream: UserUpstream, options: GateOptions): Promise<boolean> {
  const host = hostPort(upstream.endpoint.host, upstream.endpoint.port);
  const answer = async (trialId: string | null) => {
    const connection = new HttpConnection(upstream.endpoint);
    try {
      await connection.connect();
      const result = await connection.send(buildRequest(options, host, trialId), 5000);
      if (result.invalidResponse !== undefined) throw new UsageError(`the upstream at ${host} is not an HTTP/1.1 server (${result.invalidResponse}): the gate measures HTTP/1.1 keep-alive; give an HTTP/1.1 upstream`);
      return result;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`the upstream did not answer ${options.method} ${options.healthPath}: ${(error as Error).message}`);
    } finally {
      connection.close();
    }
  };
  const served = (result: { status: number | null }) => result.status !== null && result.status < 400;
  if (served(await answer('health'))) return true;
  const plain = await answer(null);
  if (served(plain)) return false;
  throw new UsageError(`the upstream answered ${plain.status ?? plain.errorClass} to ${options.method} ${options.healthPath}: give a path it serves with --health-path (and --method, --body)`);
}

/** The options as the run record keeps them: settings, not callbacks. */
function settingsOf(options: GateOptions): Record<string, unknown> {
  const { onProgress: _onProgress, ...settings } = options;
  return settings;
}

function withoutSamples(probe: ProbeResult): Omit<ProbeResult, 'closeTimesMs'> {
  const { closeTimesMs: _samples, ...summary } = probe;
  return summary;
}
