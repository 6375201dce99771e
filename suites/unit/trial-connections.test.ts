// What the gate's connection tap says of each trial (pure over its events), and the verdict's
// evidence taken from it: the race is a reused connection the upstream closed under the request.
import { describe, expect, it } from 'vitest';
import { tapFailureEvidence } from '../../src/gate/failure-evidence.js';
import type { TapEvent } from '../../src/gate/tap/connection-tap.js';
import { LATE_IDLE_CLOSE_MS, RACE_CLOSE_WITHIN_MS, TrialConnectionIndex } from '../../src/gate/tap/trial-connections.js';
import type { ErrorClass } from '../../src/vocabulary.js';

const open = (t: number, conn: number): TapEvent => ({ t, ev: 'open', conn });
const request = (t: number, conn: number, trial: string): TapEvent => ({ t, ev: 'request', conn, trial });
const response = (t: number, conn: number, trial: string): TapEvent => ({ t, ev: 'response', conn, trial });
const close = (t: number, conn: number, by: string, idleMs: number | null = null): TapEvent => ({ t, ev: 'close', conn, by, idleMs });

function index(events: TapEvent[]): TrialConnectionIndex {
  const built = new TrialConnectionIndex();
  // In two batches, as the tap's thread sends them: the index must not care where a batch ends.
  built.add(events.slice(0, Math.floor(events.length / 2)));
  built.add(events.slice(Math.floor(events.length / 2)));
  return built;
}

describe('the connection tap\'s record of each trial', () => {
  const events = [
    open(0, 1), request(1, 1, 'prime'), response(2, 1, 'prime'),
    // b1.0 reused connection 1, which the upstream closed 0.3 ms later without answering: the race.
    request(202, 1, 'b1.0'), close(202.3, 1, 'server'),
    // nginx retried it on a new connection 2, which answered.
    open(202.5, 2), request(202.8, 2, 'b1.0'), response(204, 2, 'b1.0'),
    // b1.1 went out on connection 3, opened for it, answered; then the upstream closed it idle.
    open(203, 3), request(203.2, 3, 'b1.1'), response(204, 3, 'b1.1'), close(404, 3, 'server-idle'),
    // b1.2 reused connection 2 and was answered; the upstream closed it idle much later.
    request(205, 2, 'b1.2'), response(206, 2, 'b1.2'), close(406, 2, 'server-idle'),
    // b1.3 reused connection 4; the upstream closed it 50 ms after the request, unanswered: a hung application, not the race.
    open(100, 4), request(100.5, 4, 'prime'), response(101, 4, 'prime'), request(207, 4, 'b1.3'), close(257, 4, 'server'),
    // b1.4 reused connection 5 and met the proxy's own close: not the upstream's.
    open(100, 5), request(100.5, 5, 'prime'), response(101, 5, 'prime'), request(208, 5, 'b1.4'), close(208.2, 5, 'client'),
    // b1.5 went out on connection 6, opened for it, which the upstream closed at once, unanswered: not a reused connection.
    open(209, 6), request(209.1, 6, 'b1.5'), close(209.2, 6, 'server-reset'),
  ];
  const seen = index(events);

  it('names the connection of each attempt, whether it was reused, and whether it met the upstream\'s close', () => {
    expect(seen.of('b1.0')).toEqual({ attempts: [
      { conn: 1, reused: true, raced: true, closeAfterMs: 0.3 },
      { conn: 2, reused: false, raced: false, closeAfterMs: null },
    ] });
    expect(seen.of('b1.1')).toEqual({ attempts: [{ conn: 3, reused: false, raced: false, closeAfterMs: 200.8 }] });
    // Connection 2's close follows its last request (b1.2), not b1.0's retry on it.
    expect(seen.of('b1.2')).toEqual({ attempts: [{ conn: 2, reused: true, raced: false, closeAfterMs: 201 }] });
    expect(seen.of('b1.3')!.attempts[0]).toMatchObject({ reused: true, raced: false, closeAfterMs: 50 });
    expect(50).toBeGreaterThan(RACE_CLOSE_WITHIN_MS);
    expect(seen.of('b1.4')!.attempts[0]).toMatchObject({ reused: true, raced: false });
    expect(seen.of('b1.5')!.attempts[0]).toMatchObject({ reused: false, raced: false });
    expect(seen.of('never-sent')).toBeNull();
    expect(seen.tally(['b1.0', 'b1.1', 'b1.2', 'b1.3', 'b1.4', 'b1.5', 'never-sent'])).toEqual({ reused: 4, new: 2, unseen: 1 });
  });

  it('a close just before the request (the proxy still thought the connection open) is the race too', () => {
    const before = index([open(0, 1), request(1, 1, 'prime'), response(2, 1, 'prime'), close(201.9, 1, 'server-idle'), request(202, 1, 'b2.0')]);
    expect(before.of('b2.0')!.attempts[0]).toEqual({ conn: 1, reused: true, raced: true, closeAfterMs: -0.1 });
  });

  it('with the upstream\'s idle closes known, an unanswered request on a connection closed at that idle time met the close, however late the close came', () => {
    // A fault held the request: the close came 15 ms after it passed the tap, at 1000 ms idle.
    const events = [open(0, 1), request(1, 1, 'prime'), response(2, 1, 'prime'), request(987, 1, 'late'), close(1002, 1, 'server', 1000),
      // The same delay on a connection closed 60 ms past its idle time: an application that hung.
      open(0, 2), request(1, 2, 'prime'), response(2, 2, 'prime'), request(987, 2, 'hung'), close(1062, 2, 'server', 1060)];
    const known = new TrialConnectionIndex({ idleCloseMs: [995, 1006] });
    known.add(events);
    expect(known.of('late')!.attempts[0]).toMatchObject({ raced: true, closeAfterMs: 15 });
    expect(known.of('hung')!.attempts[0]).toMatchObject({ raced: false });
    // Without the probe's figures, only the 10 ms window counts.
    expect(index(events).of('late')!.attempts[0]).toMatchObject({ raced: false });
  });

  it('a close late by a stall of the upstream (its expired timer ran before it read the request) met the request; one later still did not', () => {
    // Requests passing the tap at 1003 ms idle, inside the probe's closes (995-1006 ms): the
    // upstream closed one 17 ms later (1020 ms idle, unanswered), another 37 ms later.
    const events = [open(0, 1), request(1, 1, 'prime'), response(2, 1, 'prime'), request(1005, 1, 'stalled'), close(1022, 1, 'server', 1020),
      open(0, 2), request(1, 2, 'prime'), response(2, 2, 'prime'), request(1005, 2, 'later'), close(1042, 2, 'server', 1040),
      // A request sent long before the idle close was due (500 ms idle) and closed unanswered at 1020 ms: an application that hung.
      open(0, 3), request(1, 3, 'prime'), response(2, 3, 'prime'), request(502, 3, 'early'), close(1022, 3, 'server', 1020)];
    const known = new TrialConnectionIndex({ idleCloseMs: [995, 1006] });
    known.add(events);
    expect(1020 - 1006).toBeLessThanOrEqual(LATE_IDLE_CLOSE_MS);
    expect(known.of('stalled')!.attempts[0]).toMatchObject({ raced: true, closeAfterMs: 17 });
    expect(1040 - 1006).toBeGreaterThan(LATE_IDLE_CLOSE_MS);
    expect(known.of('later')!.attempts[0]).toMatchObject({ raced: false, closeAfterMs: 37 });
    expect(known.of('early')!.attempts[0]).toMatchObject({ raced: false });
    // Without the probe's figures, 17 ms is past the 10 ms window.
    expect(index(events).of('stalled')!.attempts[0]).toMatchObject({ raced: false });
  });

  it('through a slow chain (a fault layer on a loaded machine), a close as late as the answers about then still met the request; through a fast one it did not', () => {
    // Answers took ~60 ms through the tap (p99 over the requests answered within 2 s): a close
    // 50 ms after an unanswered request on a reused connection came back as slowly as they did.
    const slow = [open(0, 1), request(1, 1, 'prime'), response(61, 1, 'prime'), open(0, 2), request(2, 2, 'prime'), response(64, 2, 'prime'),
      request(1000, 1, 'late'), close(1050, 1, 'server'),
      // Beyond the chain's round trip: still an application that hung.
      request(1001, 2, 'hung'), close(1101, 2, 'server')];
    const seen = index(slow);
    expect(seen.closeWithinMs(1000)).toBeGreaterThan(60);
    expect(seen.of('late')!.attempts[0]).toMatchObject({ raced: true, closeAfterMs: 50 });
    expect(seen.of('hung')!.attempts[0]).toMatchObject({ raced: false, closeAfterMs: 100 });
    // Answers seen only long before (here 10 s) say nothing of the chain at the request's time.
    const stale = index([...slow.slice(0, 6), request(11_000, 1, 'late'), close(11_050, 1, 'server')]);
    expect(stale.closeWithinMs(11_000)).toBe(RACE_CLOSE_WITHIN_MS);
    expect(stale.of('late')!.attempts[0]).toMatchObject({ raced: false });
    // The fast chain of the cases above (answers in 0.5-1.2 ms) keeps the 10 ms window.
    expect(index(events).closeWithinMs(207)).toBe(RACE_CLOSE_WITHIN_MS);
  });

  it('the verdict\'s evidence: a failure that met the close is the race, a success that did was masked, the rest are other causes', () => {
    const trial = (id: string, errorClass: ErrorClass, status: number | null) => ({ id, errorClass, status });
    const evidence = tapFailureEvidence([
      trial('b1.0', 'ok', 200), // raced, retried, answered: masked
      trial('b1.1', 'ok', 200),
      trial('b1.2', '502', 502), // a 502 on a connection nobody closed: not the race
      trial('b1.3', 'timeout', null), // the hung application
      trial('never-sent', '502', 502),
    ], (id) => seen.of(id));
    expect(evidence).toEqual({ race: 0, masked: 1, other: {
      '502 with no upstream close within 10 ms (or the answers\' round trip then, if longer) of its request on a reused connection (the upstream closed them 201.0 ms after the request)': 1,
      'no answer within the client\'s timeout': 1,
      '502, the request never reaching the upstream': 1,
    } });
    const raced = index([open(0, 1), request(1, 1, 'prime'), response(2, 1, 'prime'), request(202, 1, 'b3.0'), close(202.4, 1, 'server-reset')]);
    expect(tapFailureEvidence([trial('b3.0', '502', 502)], (id) => raced.of(id))).toEqual({ race: 1, masked: 0, other: {} });
  });
});
