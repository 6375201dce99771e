// Which gate failures are the race: from what the client got and what the proxy logged.
import { describe, expect, it } from 'vitest';
import { failureEvidence, racedAttempts } from '../../src/gate/failure-evidence.js';
import type { ErrorClass } from '../../src/vocabulary.js';

const trial = (errorClass: ErrorClass, status: number | null = null) => ({ errorClass, status });
const ok = (n: number) => Array.from({ length: n }, () => trial('ok', 200));

describe('failure evidence', () => {
  it('nginx: a 502 is the race while the log holds a raced attempt for it; attempts left over were retried (masked)', () => {
    expect(failureEvidence([...ok(10), trial('502', 502), trial('502', 502)], { prematurely_closed: 1, reset_by_peer: 2 }, 'status'))
      .toEqual({ race: 2, other: {}, masked: 1 });
    // A 502 with no raced attempt logged (the upstream refused the connection) is not the race.
    expect(failureEvidence([trial('502', 502)], { refused: 1 }, 'status'))
      .toEqual({ race: 0, other: { '502 with no raced attempt in the proxy\'s log (it logged 1 refused connections)': 1 }, masked: 0 });
  });

  it('timeouts, the application\'s own 5xx and other statuses are never the race', () => {
    const evidence = failureEvidence([trial('timeout'), trial('other-5xx', 503), trial('other-5xx', 503), trial('other-status', 404), trial('error')], {}, 'status', true);
    expect(evidence.race).toBe(0);
    expect(evidence.other).toEqual({
      'no answer within the client\'s timeout (the proxy was still waiting on the upstream: a full connect queue or a slow answer)': 1,
      'the application\'s (or the proxy\'s) own 503': 2,
      'answered 404': 1,
      'a connection error': 1,
    });
  });

  it('HAProxy: a connection closed without an answer is the race (it logs nothing for it); nginx: not', () => {
    expect(failureEvidence([trial('eof'), trial('reset')], {}, 'closed').race).toBe(2);
    expect(failureEvidence([trial('eof')], {}, 'status')).toEqual({ race: 0, other: { 'the proxy closed the connection without an answer': 1 }, masked: 0 });
    expect(racedAttempts({ retried: 2, server_aborted: 1, other: 5, refused: 3, timed_out: 1 })).toBe(3);
  });
});
