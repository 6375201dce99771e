// One synchronized group of a field run: B fresh client connections, opened a few ms apart just
// before the aim, each send the request at the same instant, a chosen idle gap after the
// previous group's earliest answer. The load balancer's idle upstream connections were all
// released by that previous group, so they have all aged by about the same gap when these
// requests take them: the ages are known although the pool is not the harness's.
//
// Fresh client connections on purpose: a client connection kept idle across the gap would meet
// the load balancer's own client-side idle close, a different race, and blur the one measured.
import type { ErrorClass } from '../vocabulary.js';
import { HttpConnection, type ExchangeResult } from '../workload/http-connection.js';
import type { PreciseScheduler } from '../workload/precise-scheduler.js';
import type { FieldTarget } from './field-target.js';

export type GroupPhase = 'prime' | 'sweep' | 'focus';

export interface FieldTrial {
  id: string;
  group: number;
  phase: GroupPhase;
  /** The gap aimed at, and the one measured: this request's write minus the previous group's earliest answer. */
  intendedGapMs: number;
  gapMs: number | null;
  status: number | null;
  errorClass: ErrorClass;
  latencyMs: number;
  /** Monotonic ms of the write and of the answer's end (or the failure). */
  sentAtMs: number;
  endedAtMs: number;
  /** The service asked to be left alone (a Retry-After header). */
  retryAfter?: string;
}

export interface GroupAim {
  /** hrtime (ns) of the previous group's earliest answer that left its connection in the pool; null: none (a prime). */
  afterNs: bigint | null;
  gapMs: number;
}

/** Client connections are opened this long before the aim at most (and spread over part of it). */
const CONNECT_LEAD_MS = 150;
const CONNECT_SPACING_MS = 2;

export interface GroupSettings {
  target: FieldTarget;
  size: number;
  group: number;
  phase: GroupPhase;
  aim: GroupAim;
  scheduler: PreciseScheduler;
  /** How long a connect, and then an answer, may take. */
  responseTimeoutMs: number;
}

export interface GroupOutcome {
  trials: FieldTrial[];
  /** hrtime (ns) of the earliest answer that returned its upstream connection to the pool; null: no answer did. */
  earliestOkNs: bigint | null;
}

export async function fireGroup(settings: GroupSettings): Promise<GroupOutcome> {
  const { aim, size } = settings;
  const aimNs = aim.afterNs === null ? process.hrtime.bigint() : aim.afterNs + BigInt(Math.round(aim.gapMs * 1e6));
  const leadMs = Math.min(CONNECT_LEAD_MS, aim.gapMs / 2);
  if (aim.afterNs !== null) await settings.scheduler.at(aimNs - BigInt(Math.round(leadMs * 1e6)));
  const connections = Array.from({ length: size }, () => new HttpConnection(settings.target.endpoint, settings.target.tls));
  try {
    // Opened a few ms apart, not as a storm of handshakes.
    const opened = await Promise.all(connections.map(async (connection, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * CONNECT_SPACING_MS));
      return connection.connect(settings.responseTimeoutMs).then(() => null, (error: Error) => error);
    }));
    await settings.scheduler.at(aimNs);
    const results = await Promise.all(connections.map((connection, index) => (opened[index] ? null : connection.send(settings.target.request, settings.responseTimeoutMs))));
    const trials = results.map((result, index) => trialOf(settings, index, result, opened[index] ?? null));
    const okEnds = results.filter((result): result is ExchangeResult => result !== null && result.errorClass === 'ok').map((result) => result.endedAtNs);
    return { trials, earliestOkNs: okEnds.length === 0 ? null : okEnds.reduce((min, end) => (end < min ? end : min)) };
  } finally {
    for (const connection of connections) connection.close();
  }
}

function trialOf(settings: GroupSettings, index: number, result: ExchangeResult | null, connectError: Error | null): FieldTrial {
  const id = `g${settings.group}.${index}`;
  const base = { id, group: settings.group, phase: settings.phase, intendedGapMs: round(settings.aim.gapMs) };
  if (!result) {
    // The load balancer refused a new client connection: no request went out, a failure all the same.
    const now = Number(process.hrtime.bigint()) / 1e6;
    const code = (connectError as NodeJS.ErrnoException | null)?.code;
    return { ...base, gapMs: null, status: null, errorClass: code === 'ECONNRESET' ? 'reset' : code === 'ETIMEDOUT' ? 'timeout' : 'error', latencyMs: 0, sentAtMs: round(now), endedAtMs: round(now) };
  }
  const gapMs = settings.aim.afterNs === null ? null : round(Number(result.sentAtNs - settings.aim.afterNs) / 1e6);
  return {
    ...base,
    gapMs,
    status: result.status,
    errorClass: result.errorClass,
    latencyMs: round(Number(result.endedAtNs - result.sentAtNs) / 1e6),
    sentAtMs: round(Number(result.sentAtNs) / 1e6),
    endedAtMs: round(Number(result.endedAtNs) / 1e6),
    ...(result.headers['retry-after'] !== undefined ? { retryAfter: result.headers['retry-after'] } : {}),
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
