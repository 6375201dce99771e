// The workload: trials that reuse a proxy->upstream connection exactly when it has been idle
// for (boundary + offset). Each lane has its own nginx upstream block, so the lane's previous
// response is the last use of the connection its next request gets (nginx's pool is LIFO per
// worker: lanes sharing a pool would not control the idle age). Each lane is a loop that owns
// its client connection; every trial is written to the history the moment it completes.
import type { HistorySink } from '../history/history-file.js';
import type { TrialRecord } from '../history/records.js';
import type { ErrorClass } from '../vocabulary.js';
import { lanePath } from '../proxy/lanes.js';
import type { BoundaryKind, CellSpec, ClientKind, Endpoint } from '../vocabulary.js';
import { isShuttingDown } from '../util/cleanup.js';
import { seededRandom, shuffle } from '../util/random.js';
import { answerSentAt, monotonicMs } from './clock.js';
import type { ExchangeResult } from './http-connection.js';
import { laneTransport, type LaneTransport, type TrialRequest } from './lane-transports.js';
import { PreciseScheduler } from './precise-scheduler.js';
import { aimWithin, stratumWidthMs } from '../scenario/strata.js';

/** One cell's share of a run of lanes: the lanes of one topology fire the trials of every cell
 *  they are given, interleaved at random, so that the cells meet the same moments. */
export interface FiredCell {
  cell: CellSpec;
  /** Short prefix for trial ids, unique within a run (e.g. "c3"). */
  trialPrefix: string;
  /** Trials to fire now per pairKey(boundary, offset). */
  due: Partial<Record<string, number>>;
  /** The cell's trial counter, shared by every run of lanes that fires the cell: ids stay unique. */
  counter: { next: number };
}

export interface TrialPlan {
  cells: FiredCell[];
  boundaries: { kind: BoundaryKind; atMs: number }[];
  offsetsMs: number[];
  /** Each trial aims evenly within this much gap around its offset (default: stratumWidthMs). */
  stratumMs?: number;
  lanes: number;
  seed: number;
  /** The randomized block of the sweep this run of lanes belongs to (recorded on each trial). */
  block?: number;
  /** Stop starting trials after this long; the run is then marked incomplete. */
  maxSeconds: number;
  responseTimeoutMs?: number;
  spinMs?: number;
  onTrial?: (trial: TrialRecord) => void;
  /** Checked before each trial: true ends the run early (marked incomplete, with `stopReason`). */
  stopWhen?: () => string | null;
  /** The lanes' client (default raw: the harness's own connection), and its idle timeout. */
  client?: { kind: ClientKind; idleTimeoutMs: number };
}

export interface TrialRunOutcome {
  trials: number;
  completed: boolean;
  reason?: string;
}

interface Lane {
  index: number;
  connection: LaneTransport;
  /** When the lane's upstream connection went idle: its last answer left the upstream. */
  idleSince: { ns: bigint; clock: 'upstream' | 'client' } | null;
  /** When the client received that answer. */
  receivedAtNs: bigint;
  primes: number;
}

interface PlannedTrial {
  fired: FiredCell;
  boundary: BoundaryKind;
  boundaryMs: number;
  /** The stratum's centre (the configured offset) and the point aimed at within it. */
  offsetMs: number;
  aimMs: number;
}

/** How long a trial that ended without an answer waits to learn whether a shutdown caused it. */
const TEARDOWN_GRACE_MS = 50;

/** Untimed requests each lane sends before its first trial. */
const WARMUP_REQUESTS = 3;

/** What the lanes of one cell share: the plan, the scheduler, the history, the tally. */
interface TrialRun {
  plan: TrialPlan;
  proxy: Endpoint;
  scheduler: PreciseScheduler;
  responseTimeoutMs: number;
  history: HistorySink;
  nextTrial: () => PlannedTrial | undefined;
  deadline: number;
  done: number;
  stopReason?: string;
}

export async function runBoundaryTrials(proxy: Endpoint, plan: TrialPlan, history: HistorySink): Promise<TrialRunOutcome> {
  const run: TrialRun = {
    plan, proxy, history, nextTrial: trialOrder(plan), scheduler: new PreciseScheduler(plan.spinMs ?? 2),
    responseTimeoutMs: plan.responseTimeoutMs ?? 10_000, deadline: Date.now() + plan.maxSeconds * 1000, done: 0,
  };
  // Lanes start spread over one boundary period (at most 2 s): started together, their first
  // trials would all fire at once, a burst that delays requests in the proxy and the fault
  // layer by tens of ms (seen: 44 ms) and makes failures far from the boundary.
  const periodMs = Math.min(2000, Math.max(...plan.boundaries.map((boundary) => boundary.atMs)));
  await Promise.all(Array.from({ length: plan.lanes }, (_, index) => runLane(run, index, (index * periodMs) / plan.lanes)));
  return run.stopReason ? { trials: run.done, completed: false, reason: run.stopReason } : { trials: run.done, completed: true };
}

/** A lane takes the next planned trial as soon as its previous one has ended. */
async function runLane(run: TrialRun, index: number, startDelayMs: number): Promise<void> {
  const { plan } = run;
  const client = plan.client ?? { kind: 'raw', idleTimeoutMs: 0 };
  const lane: Lane = { index, connection: laneTransport(client.kind, run.proxy, client), idleSince: null, receivedAtNs: 0n, primes: 0 };
  await new Promise((resolve) => setTimeout(resolve, startDelayMs));
  try {
    // Warm-up: the first requests through fresh processes (JIT, new connections at every hop)
    // are slow, tens of ms through a fault layer (seen: 35-45 ms), and would fail as if raced.
    for (let warmup = 0; warmup < WARMUP_REQUESTS; warmup++) await prime(run, lane);
    for (;;) {
      if (run.stopReason) return;
      if (Date.now() > run.deadline) {
        run.stopReason = `time limit of ${plan.maxSeconds} s reached`;
        return;
      }
      const stop = plan.stopWhen?.();
      if (stop) {
        run.stopReason = stop;
        return;
      }
      const item = run.nextTrial();
      if (!item) return;
      await runTrial(run, lane, item);
    }
  } catch (error) {
    run.stopReason ??= (error as Error).message;
  } finally {
    lane.connection.close();
  }
}

function laneRequest(cell: CellSpec, lane: Lane, id: string): TrialRequest {
  return {
    method: cell.method,
    path: `${lanePath(lane.index)}?t=${id}`,
    ...(cell.method === 'POST' ? { body: `{"trial":"${id}"}` } : {}),
  };
}

/** Makes the lane's upstream connection fresh and known: one untimed request. */
async function prime(run: TrialRun, lane: Lane, fired: FiredCell = run.plan.cells[lane.index % run.plan.cells.length]!): Promise<void> {
  // The block is in the id: a lane's priming requests restart their count in every block.
  const id = `${fired.trialPrefix}.p${run.plan.block === undefined ? '' : `${run.plan.block}-`}${lane.index}.${lane.primes++}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!lane.connection.isOpen) await lane.connection.connect();
    const result = await lane.connection.send(laneRequest(fired.cell, lane, attempt === 0 ? id : `${id}r${attempt}`), run.responseTimeoutMs);
    if (result.connectionDone) lane.connection.close();
    if (result.errorClass === 'ok') {
      lane.idleSince = answerSentAt(result.headers, result.endedAtNs);
      lane.receivedAtNs = result.endedAtNs;
      return;
    }
  }
  throw new Error(`lane ${lane.index}: the proxy answered no priming request in 5 tries; is the upstream up?`);
}

async function runTrial(run: TrialRun, lane: Lane, item: PlannedTrial): Promise<void> {
  if (lane.idleSince === null) await prime(run, lane, item.fired);
  else if (!lane.connection.isOpen) await lane.connection.connect();
  const idleSince = lane.idleSince!;
  await run.scheduler.at(idleSince.ns + BigInt(Math.round((item.boundaryMs + item.aimMs) * 1e6)));
  // The proxy may have closed the idle client connection while the lane waited (HAProxy's
  // `timeout http-keep-alive` is also its client-side idle limit). A client that sees the
  // close opens a new connection, as every client pool does; the request then races only
  // where the proxy reuses its upstream connection.
  if (!lane.connection.isOpen) await lane.connection.connect();
  const id = `${item.fired.trialPrefix}.${item.fired.counter.next++}`;
  const result = await lane.connection.send(laneRequest(item.fired.cell, lane, id), run.responseTimeoutMs);
  // A connection that ended without an answer may be the topology going down: a terminal's
  // Ctrl-C reaches nginx in the same instant as the harness, and its sockets' close can be
  // handled before the harness's signal handler. Give the signal a moment to land first.
  if (result.status === null) await new Promise((resolve) => setTimeout(resolve, TEARDOWN_GRACE_MS));
  if (isShuttingDown()) return;
  const trial = trialRecord(run.plan, lane, item, id, idleSince, result);
  run.history.append(trial);
  run.done++;
  run.plan.onTrial?.(trial);
  if (result.connectionDone) lane.connection.close();
  // After a failure the proxy dropped the upstream connection: the next request would open
  // a new one, whose idle age is not what the next trial intends. Prime again.
  lane.idleSince = needsPrime(result.errorClass) ? null : answerSentAt(result.headers, result.endedAtNs);
  lane.receivedAtNs = result.endedAtNs;
}

function trialRecord(plan: TrialPlan, lane: Lane, item: PlannedTrial, id: string, idleSince: NonNullable<Lane['idleSince']>, result: ExchangeResult): TrialRecord {
  const gapMs = Number(result.sentAtNs - idleSince.ns) / 1e6;
  return {
    type: 'trial',
    cell: item.fired.cell.id,
    id,
    lane: lane.index,
    method: item.fired.cell.method,
    boundary: item.boundary,
    intendedOffsetMs: item.offsetMs,
    aimOffsetMs: round4(item.aimMs),
    ...(plan.block !== undefined ? { block: plan.block } : {}),
    gapMs: round4(gapMs),
    gapOffsetMs: round4(gapMs - item.boundaryMs),
    gapClock: idleSince.clock,
    receiptGapMs: round4(Number(result.sentAtNs - lane.receivedAtNs) / 1e6),
    status: result.status,
    errorClass: result.errorClass,
    latencyMs: round4(Number(result.endedAtNs - result.sentAtNs) / 1e6),
    sentAt: monotonicMs(result.sentAtNs),
    endedAt: monotonicMs(result.endedAtNs),
    ...(result.reusedSocket !== undefined ? { reusedSocket: result.reusedSocket } : {}),
  };
}

/** Key of a (boundary, offset) pair in TrialPlan.alreadyDone. */
export function pairKey(boundary: BoundaryKind, offsetMs: number): string {
  return `${boundary}:${offsetMs}`;
}

/**
 * The trial order: rounds of every (cell, boundary, offset) triple in a seeded random order, so
 * that however early a run stops, each offset of each cell has been tried about as often as
 * every other. Each trial aims at a point drawn evenly within its offset's stratum.
 */
function trialOrder(plan: TrialPlan): () => PlannedTrial | undefined {
  const stratumMs = plan.stratumMs ?? stratumWidthMs(plan.offsetsMs);
  const triples = plan.cells.flatMap((fired) => plan.boundaries.flatMap((boundary) => plan.offsetsMs.map((offsetMs) => ({
    fired, boundary, offsetMs, remaining: fired.due[pairKey(boundary.kind, offsetMs)] ?? 0,
  }))));
  const random = seededRandom(plan.seed);
  let round: typeof triples = [];
  return () => {
    if (round.length === 0) {
      const due = triples.filter((triple) => triple.remaining > 0);
      if (due.length === 0) return undefined;
      for (const triple of due) triple.remaining--;
      round = shuffle(due, random);
    }
    const { fired, boundary, offsetMs } = round.pop()!;
    return { fired, boundary: boundary.kind, boundaryMs: boundary.atMs, offsetMs, aimMs: aimWithin(offsetMs, stratumMs, random) };
  };
}

/** Trials each (boundary, offset) pair still needs: `trialsPerOffset` less what a resumed cell has. */
export function dueTrials(plan: { boundaries: readonly { kind: BoundaryKind }[]; offsetsMs: readonly number[]; trialsPerOffset: number;
  alreadyDone?: Partial<Record<string, number>> }): Record<string, number> {
  const due: Record<string, number> = {};
  for (const boundary of plan.boundaries) {
    for (const offsetMs of plan.offsetsMs) {
      const key = pairKey(boundary.kind, offsetMs);
      due[key] = Math.max(0, plan.trialsPerOffset - (plan.alreadyDone?.[key] ?? 0));
    }
  }
  return due;
}

/**
 * A cell's due trials dealt into `blocks` shares as even as counts allow; the remainders go to
 * different blocks for different pairs, so that no block is the big one.
 */
export function splitIntoBlocks(due: Readonly<Record<string, number>>, blocks: number): Record<string, number>[] {
  const shares = Array.from({ length: blocks }, () => ({} as Record<string, number>));
  Object.entries(due).forEach(([key, count], pairIndex) => {
    for (let block = 0; block < blocks; block++) {
      const extra = (((block - pairIndex) % blocks) + blocks) % blocks < count % blocks ? 1 : 0;
      shares[block]![key] = Math.floor(count / blocks) + extra;
    }
  });
  return shares;
}

/** Trials a plan fires: every pair's rounds, less what a resumed cell already has. */
export function plannedTrialCount(plan: Pick<TrialPlan, 'boundaries' | 'offsetsMs'> & { trialsPerOffset: number; alreadyDone?: Partial<Record<string, number>> }): number {
  return Object.values(dueTrials(plan)).reduce((sum, n) => sum + n, 0);
}

function needsPrime(errorClass: ErrorClass): boolean {
  return errorClass !== 'ok';
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
