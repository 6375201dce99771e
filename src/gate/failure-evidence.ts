// Which of the gate's failures are the keep-alive race, from the evidence the run has: the
// upstream's own close under the request, where the connection tap saw the trial
// (tap/trial-connections.ts), else what the client got and what the proxy logged. Only those
// decide the verdict; the rest (timeouts, the application's own errors, refused connections) are
// counted apart with their cause, and never called the race. Pure functions of what was recorded.
import type { ProxyLogReason } from '../history/records.js';
import type { GateFlavour } from '../proxy/gate-flavour.js';
import type { ErrorClass } from '../vocabulary.js';
import { RACE_CLOSE_WITHIN_MS, type TrialConnections } from './tap/trial-connections.js';

export interface TrialOutcome {
  status: number | null;
  errorClass: ErrorClass;
}

export interface FailureEvidence {
  /** Failures the evidence ties to the race. */
  race: number;
  /** Failures that are not the race, by cause. */
  other: Record<string, number>;
  /** Raced upstream attempts the proxy retried, so that the client saw no failure. */
  masked: number;
}

/**
 * The proxy's log lines that say an upstream attempt met a closed connection: nginx's
 * "upstream prematurely closed connection", connection reset and broken pipe on a reused
 * connection; HAProxy's retried requests and its 5xx after the server aborted.
 */
export function racedAttempts(proxyLog: Partial<Record<ProxyLogReason, number>>): number {
  return (proxyLog.prematurely_closed ?? 0) + (proxyLog.reset_by_peer ?? 0) + (proxyLog.broken_pipe ?? 0) + (proxyLog.retried ?? 0) + (proxyLog.server_aborted ?? 0);
}

/**
 * nginx answers a raced request with a 502 and logs the attempt behind it, so a 502 counts as
 * the race while the log has a raced attempt for it; a raced attempt left over was retried
 * (masked). HAProxy closes the client's connection without a status and logs nothing
 * (docs/race.md#haproxy), so there a closed or reset connection is the race: each flavour says
 * which answer is its (`raceAnswer`, src/proxy/<flavour>/gate.ts).
 * `clientGaveUp`: the proxy logged that a client closed while it still waited on the upstream
 * (nginx's "client prematurely closed connection"): a connect queue or a slow answer, not the race.
 */
export function failureEvidence(trials: readonly TrialOutcome[], proxyLog: Partial<Record<ProxyLogReason, number>>, raceAnswer: GateFlavour['raceAnswer'], clientGaveUp = false): FailureEvidence {
  const other: Record<string, number> = {};
  const add = (cause: string) => { other[cause] = (other[cause] ?? 0) + 1; };
  let status502 = 0;
  let closed = 0;
  for (const trial of trials) {
    if (trial.errorClass === 'ok') continue;
    if (trial.errorClass === '502') status502++;
    else if (raceAnswer === 'closed' && (trial.errorClass === 'eof' || trial.errorClass === 'reset')) closed++;
    else add(causeOf(trial, clientGaveUp));
  }
  const attempts = racedAttempts(proxyLog);
  const race502 = Math.min(status502, attempts);
  if (status502 > race502) {
    const refused = proxyLog.refused ?? 0;
    other[refused > 0 ? `502 with no raced attempt in the proxy's log (it logged ${refused} refused connections)` : '502 with no raced attempt in the proxy\'s log'] = status502 - race502;
  }
  return { race: race502 + closed, other, masked: attempts - race502 };
}

/** A failure that is not the race, by what the client got. */
function causeOf(trial: TrialOutcome, clientGaveUp: boolean): string {
  switch (trial.errorClass) {
    case '502': return '502 with no raced attempt in the proxy\'s log';
    case 'eof':
    case 'reset': return 'the proxy closed the connection without an answer';
    case 'timeout': return clientGaveUp ? 'no answer within the client\'s timeout (the proxy was still waiting on the upstream: a full connect queue or a slow answer)' : 'no answer within the client\'s timeout';
    case 'other-5xx': return `the application's (or the proxy's) own ${trial.status}`;
    case 'other-status': return `answered ${trial.status}`;
    default: return 'a connection error';
  }
}

/**
 * From the connection tap: a failure is the race when one of its attempts met the upstream's
 * close (the upstream closed that connection under the request, unanswered); a trial that
 * succeeded although an attempt met the close was retried by the proxy (masked). A failure with
 * no such attempt is not the race, whatever the proxy logged, and neither is one whose request
 * never passed the tap (the proxy sent it nowhere). For runs whose requests carry their trial's
 * id; without ids, failureEvidence judges from the proxy's log.
 */
export function tapFailureEvidence(trials: readonly (TrialOutcome & { id: string })[], connectionsOf: (trial: string) => TrialConnections | null, clientGaveUp = false): FailureEvidence {
  const other: Record<string, number> = {};
  let race = 0;
  let masked = 0;
  /** For the 502s the tap saw that met no close: ms from each one's last request to its connection's close (null: none seen). */
  const unmet: (number | null)[] = [];
  for (const trial of trials) {
    const seen = connectionsOf(trial.id);
    const raced = seen ? seen.attempts.filter((attempt) => attempt.raced).length : 0;
    if (trial.errorClass === 'ok') masked += raced;
    else if (raced > 0) race++;
    else if (seen && trial.errorClass === '502') unmet.push(seen.attempts.at(-1)?.closeAfterMs ?? null);
    else {
      const cause = !seen ? `${trial.errorClass === '502' ? '502' : causeOf(trial, clientGaveUp)}, the request never reaching the upstream` : causeOf(trial, clientGaveUp);
      other[cause] = (other[cause] ?? 0) + 1;
    }
  }
  if (unmet.length > 0) other[`502 with no upstream close within ${RACE_CLOSE_WITHIN_MS} ms (or the answers' round trip then, if longer) of its request on a reused connection${closesOf(unmet)}`] = unmet.length;
  return { race, other, masked };
}

/**
 * Where the connections of 502s that met no close did close, so that an undecided run says how
 * far from the race they were, e.g. " (the upstream closed them 14.0 to 31.0 ms after the request)".
 */
function closesOf(closeAfterMs: readonly (number | null)[]): string {
  const closes = closeAfterMs.filter((ms): ms is number => ms !== null);
  if (closes.length === 0) return ' (no close of their connections seen)';
  const which = closes.length === closeAfterMs.length ? 'them' : `${closes.length} of them`;
  const min = Math.min(...closes);
  const max = Math.max(...closes);
  const span = min === max ? `${min.toFixed(1)} ms` : `${min.toFixed(1)} to ${max.toFixed(1)} ms`;
  return ` (the upstream closed ${which} ${span} after the request${closes.length < closeAfterMs.length ? ', the others not seen closing' : ''})`;
}

/** The causes as one phrase: "3 no answer within the client's timeout, 1 the application's own 500". */
export function describeOther(other: Record<string, number>): string {
  return Object.entries(other).map(([cause, count]) => `${count} ${cause}`).join(', ');
}

export function otherCount(other: Record<string, number>): number {
  return Object.values(other).reduce((sum, count) => sum + count, 0);
}
