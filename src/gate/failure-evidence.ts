// Which of the gate's failures are the keep-alive race, from the evidence the run has: what the
// client got, and what the proxy logged. Only those decide the verdict; the rest (timeouts, the
// application's own errors, refused connections) are counted apart with their cause, and never
// called the race. A pure function of the trials and the proxy's log counts.
import type { ErrorClass, ProxyLogReason } from '../history/records.js';

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
 * (docs/race.md#haproxy), so there a closed or reset connection is the race.
 * `clientGaveUp`: the proxy logged that a client closed while it still waited on the upstream
 * (nginx's "client prematurely closed connection"): a connect queue or a slow answer, not the race.
 */
export function failureEvidence(trials: readonly TrialOutcome[], proxyLog: Partial<Record<ProxyLogReason, number>>, flavour: 'nginx' | 'haproxy', clientGaveUp = false): FailureEvidence {
  const other: Record<string, number> = {};
  const add = (cause: string) => { other[cause] = (other[cause] ?? 0) + 1; };
  let status502 = 0;
  let closed = 0;
  for (const trial of trials) {
    switch (trial.errorClass) {
      case 'ok': break;
      case '502': status502++; break;
      case 'eof':
      case 'reset':
        if (flavour === 'haproxy') closed++;
        else add('the proxy closed the connection without an answer');
        break;
      case 'timeout': add(clientGaveUp ? 'no answer within the client\'s timeout (the proxy was still waiting on the upstream: a full connect queue or a slow answer)' : 'no answer within the client\'s timeout'); break;
      case 'other-5xx': add(`the application's (or the proxy's) own ${trial.status}`); break;
      case 'other-status': add(`answered ${trial.status}`); break;
      default: add('a connection error'); break;
    }
  }
  const attempts = racedAttempts(proxyLog);
  const race502 = Math.min(status502, attempts);
  if (status502 > race502) {
    const refused = proxyLog.refused ?? 0;
    other[refused > 0 ? `502 with no raced attempt in the proxy's log (it logged ${refused} refused connections)` : '502 with no raced attempt in the proxy\'s log'] = status502 - race502;
  }
  return { race: race502 + closed, other, masked: attempts - race502 };
}

/** The causes as one phrase: "3 no answer within the client's timeout, 1 the application's own 500". */
export function describeOther(other: Record<string, number>): string {
  return Object.entries(other).map(([cause, count]) => `${count} ${cause}`).join(', ');
}

export function otherCount(other: Record<string, number>): number {
  return Object.values(other).reduce((sum, count) => sum + count, 0);
}
