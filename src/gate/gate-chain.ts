// The chain a gate fires through: the user's proxy -> the connection tap -> [Toxiproxy with the
// faults] -> the user's upstream. The tap records each proxy-to-upstream connection, so that
// every trial says whether it reused one and whether its connection closed under the request
// (tap/connection-tap.ts). Next to the proxy, it sees requests and closes when the proxy does,
// after any fault's delay. The chain also keeps the proxy's log, and says which failures are
// the race from that evidence.
import type { Fault } from '../faults/fault.js';
import type { HistorySink } from '../history/history-file.js';
import type { ProxyLogReason, ProxyLogRecord, WireListener } from '../history/records.js';
import type { ProbeResult } from '../probe/probe.js';
import type { PreparedProxyConf } from '../proxy/gate-flavour.js';
import { createFaultProxy } from '../toxiproxy/fault-proxy.js';
import { startLocalToxiproxy } from '../toxiproxy/local-toxiproxy.js';
import { UsageError } from '../util/errors.js';
import type { StopList } from '../util/stop-list.js';
import { hostPort } from '../util/ports.js';
import { quantile } from '../util/stats.js';
import type { BurstTrial } from './boundary-bursts.js';
import { failureEvidence, tapFailureEvidence, type FailureEvidence } from './failure-evidence.js';
import type { GateHistoryRecord } from './gate-history.js';
import type { GateProxy } from './gate-proxy.js';
import { startConnectionTap } from './tap/connection-tap.js';
import { TrialConnectionIndex } from './tap/trial-connections.js';
import type { UserUpstream } from './user-upstream.js';

export interface GateChainInput {
  proxy: GateProxy;
  upstream: UserUpstream;
  faults: Fault[];
  /** The upstream's idle closes as probed (null: it closed none while the probe waited). */
  probe: ProbeResult | null;
  listenPort: number;
  burstSize: number;
  /** Whether requests carry their trial's id (then the tap's record of each trial decides). */
  tagTrials: boolean;
  history: HistorySink<GateHistoryRecord> | null;
  /** Where each started part registers its stop. */
  stops: StopList;
}

export interface GateChain {
  /** The user's config, prepared for the chain. */
  conf: PreparedProxyConf;
  /** host:port the proxy sends to (the tap's). */
  upstreamAddress: string;
  /** Who listens where behind the proxy (the tap, the fault layer, the upstream): for a capture. */
  wire: WireListener[];
  trialConnections: TrialConnectionIndex;
  proxyLog: Partial<Record<ProxyLogReason, number>>;
  proxyLogSamples: Partial<Record<ProxyLogReason, string>>;
  /** Counts a proxy log record (every copy of the proxy reports here) and writes it to the history. */
  onProxyRecord(record: ProxyLogRecord): void;
  /** Which failures are the race: with trial ids in the requests, the tap's record of each; without, the proxy's log. */
  evidenceOf(trials: readonly BurstTrial[]): FailureEvidence;
  /** The trials that can meet a close: those that reused an idle upstream connection (all, without the tap's ids). */
  racingTrials(trials: readonly BurstTrial[]): readonly BurstTrial[];
}

export async function startGateChain(input: GateChainInput): Promise<GateChain> {
  const { proxy, upstream, faults, probe, history, stops } = input;
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
  const conf = proxy.prepare(tap.address, input.listenPort, input.burstSize);
  const proxyLog: Partial<Record<ProxyLogReason, number>> = {};
  const proxyLogSamples: Partial<Record<ProxyLogReason, string>> = {};
  let clientGaveUp = false;
  const chain: GateChain = {
    conf,
    upstreamAddress: tap.address,
    wire: [
      { role: 'tap', ...endpointOf(tap.address) },
      ...(faultAddress ? [{ role: 'fault layer' as const, ...endpointOf(faultAddress) }] : []),
      { role: 'upstream', ...upstream.endpoint },
    ],
    trialConnections,
    proxyLog,
    proxyLogSamples,
    onProxyRecord(record) {
      proxyLog[record.reason] = (proxyLog[record.reason] ?? 0) + 1;
      proxyLogSamples[record.reason] ??= record.message;
      if (/client prematurely closed connection/.test(record.message)) clientGaveUp = true;
      history?.append(record);
    },
    evidenceOf: (trials) => (input.tagTrials
      ? tapFailureEvidence(trials, (id) => trialConnections.of(id), clientGaveUp)
      : failureEvidence(trials, proxyLog, proxy.flavour.gate!.raceAnswer, clientGaveUp)),
    racingTrials: (trials) => (input.tagTrials ? trials.filter((trial) => trialConnections.of(trial.id)?.attempts[0]?.reused === true) : trials),
  };
  const running = await proxy.start(conf, chain.onProxyRecord).catch((error: Error) => {
    throw error instanceof UsageError ? error : new UsageError(`the proxy did not start: ${error.message}`);
  });
  stops.push(running.stop);
  return chain;
}

/** "host:port" as an endpoint. */
function endpointOf(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(colon + 1)) };
}
