// The workload: trials that reuse a proxy->upstream connection exactly when it has been idle
// for (boundary + offset). Each lane has its own nginx upstream block, so the lane's previous
// response is the last use of the connection its next request gets (nginx's pool is LIFO per
// worker: lanes sharing a pool would not control the idle age). Lanes are p-limit slots;
// every trial is written to the history the moment it completes.
import pLimit from 'p-limit';
import type { HistorySink } from '../history/history-file.js';
import type { ErrorClass, TrialRecord } from '../history/records.js';
import { lanePath } from '../proxy/nginx/render.js';
import type { BoundaryKind, CellSpec } from '../scenario/cells.js';
import type { Endpoint } from '../runtime/runtime.js';
import { seededRandom, shuffle } from '../util/random.js';
import { HttpConnection } from './http-connection.js';
import { PreciseScheduler } from './precise-scheduler.js';

export interface TrialPlan {
  cell: CellSpec;
  /** Short prefix for trial ids, unique within a run (e.g. "c3"). */
  trialPrefix: string;
  boundaries: { kind: BoundaryKind; atMs: number }[];
  offsetsMs: number[];
  trialsPerOffset: number;
  lanes: number;
  seed: number;
  /** Stop starting trials after this long; the cell is then marked incomplete. */
  maxSeconds: number;
  responseTimeoutMs?: number;
  spinMs?: number;
  onTrial?: (trial: TrialRecord) => void;
}

export interface TrialRunOutcome {
  trials: number;
  completed: boolean;
  reason?: string;
}

interface Lane {
  index: number;
  connection: HttpConnection;
  /** hrtime of the end of the lane's last answer: when its upstream connection went idle. */
  lastEndNs: bigint | null;
  primes: number;
}

interface PlannedTrial {
  boundary: BoundaryKind;
  boundaryMs: number;
  offsetMs: number;
}

// hrtime has no epoch; trials carry epoch ms so they can be joined with proxy and upstream logs.
const EPOCH_MS_AT_HR0 = Date.now() - Number(process.hrtime.bigint()) / 1e6;
const epochMs = (ns: bigint) => Math.round((EPOCH_MS_AT_HR0 + Number(ns) / 1e6) * 1000) / 1000;

export async function runBoundaryTrials(proxy: Endpoint, plan: TrialPlan, history: HistorySink): Promise<TrialRunOutcome> {
  const planned = shuffle(
    plan.boundaries.flatMap((boundary) => plan.offsetsMs.flatMap((offsetMs) =>
      Array.from({ length: plan.trialsPerOffset }, (): PlannedTrial => ({ boundary: boundary.kind, boundaryMs: boundary.atMs, offsetMs })))),
    seededRandom(plan.seed));
  const scheduler = new PreciseScheduler(plan.spinMs ?? 2);
  const responseTimeoutMs = plan.responseTimeoutMs ?? 10_000;
  const deadline = Date.now() + plan.maxSeconds * 1000;
  const idleLanes: Lane[] = Array.from({ length: plan.lanes }, (_, index) => ({ index, connection: new HttpConnection(proxy), lastEndNs: null, primes: 0 }));
  const limit = pLimit(plan.lanes);
  let done = 0;
  let stopReason: string | undefined;

  const request = (lane: Lane, id: string): string => {
    const head = `${plan.cell.method} ${lanePath(lane.index)}?t=${id} HTTP/1.1\r\nHost: keepalive-lab\r\n`;
    if (plan.cell.method !== 'POST') return head + '\r\n';
    const body = `{"trial":"${id}"}`;
    return head + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };

  /** Makes the lane's upstream connection fresh and known: one untimed request. */
  const prime = async (lane: Lane): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!lane.connection.isOpen) await lane.connection.connect();
      const result = await lane.connection.send(request(lane, `${plan.trialPrefix}.p${lane.index}.${lane.primes++}`), responseTimeoutMs);
      if (result.connectionDone) lane.connection.close();
      if (result.errorClass === 'ok') {
        lane.lastEndNs = result.endedAtNs;
        return;
      }
    }
    throw new Error(`lane ${lane.index}: the proxy answered no priming request in 5 tries; is the upstream up?`);
  };

  const runTrial = async (item: PlannedTrial, sequence: number): Promise<void> => {
    if (stopReason) return;
    if (Date.now() > deadline) {
      stopReason = `time limit of ${plan.maxSeconds} s reached`;
      return;
    }
    const lane = idleLanes.pop()!;
    try {
      if (lane.lastEndNs === null || !lane.connection.isOpen) {
        if (lane.lastEndNs === null) await prime(lane);
        else await lane.connection.connect();
      }
      const idleSinceNs = lane.lastEndNs!;
      const targetMs = item.boundaryMs + item.offsetMs;
      await scheduler.at(idleSinceNs + BigInt(Math.round(targetMs * 1e6)));
      const id = `${plan.trialPrefix}.${sequence}`;
      const result = await lane.connection.send(request(lane, id), responseTimeoutMs);
      const gapMs = Number(result.sentAtNs - idleSinceNs) / 1e6;
      const trial: TrialRecord = {
        type: 'trial',
        cell: plan.cell.id,
        id,
        lane: lane.index,
        method: plan.cell.method,
        boundary: item.boundary,
        intendedOffsetMs: item.offsetMs,
        gapMs: round4(gapMs),
        gapOffsetMs: round4(gapMs - item.boundaryMs),
        status: result.status,
        errorClass: result.errorClass,
        latencyMs: round4(Number(result.endedAtNs - result.sentAtNs) / 1e6),
        sentAt: epochMs(result.sentAtNs),
        endedAt: epochMs(result.endedAtNs),
      };
      history.append(trial);
      done++;
      plan.onTrial?.(trial);
      if (result.connectionDone) lane.connection.close();
      // After a failure the proxy dropped the upstream connection: the next request would open
      // a new one, whose idle age is not what the next trial intends. Prime again.
      lane.lastEndNs = needsPrime(result.errorClass) ? null : result.endedAtNs;
    } catch (error) {
      stopReason ??= (error as Error).message;
    } finally {
      idleLanes.push(lane);
    }
  };

  try {
    await Promise.all(planned.map((item, sequence) => limit(() => runTrial(item, sequence))));
  } finally {
    for (const lane of idleLanes) lane.connection.close();
  }
  return stopReason ? { trials: done, completed: false, reason: stopReason } : { trials: done, completed: true };
}

function needsPrime(errorClass: ErrorClass): boolean {
  return errorClass !== 'ok';
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
