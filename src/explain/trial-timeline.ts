// A trial's story, joined from the three records that saw it: the client (the trial), the
// proxy (its error-log lines) and the upstream (its connection events). Pure over the history.
// Times are on the shared monotonic clock, relative to when the previous answer on the same
// connection left the upstream: the instant the connection's idle time starts.
import type { CellRecord, HistoryRecord, ProxyLogRecord, TrialRecord, UpstreamEventRecord } from '../history/records.js';
import { shardScope } from '../history/shard-scope.js';

export interface TimelineEvent {
  /** ms after the previous answer left the upstream. */
  atMs: number;
  who: 'upstream' | 'client' | 'proxy';
  what: string;
}

export interface TrialTimeline {
  trial: TrialRecord;
  cell: CellRecord | undefined;
  events: TimelineEvent[];
  /** Did the upstream see this request at all? (Only known where it records its events.) */
  reachedUpstream: boolean;
  /** Whether the history holds the upstream's own events (the gate's user upstream records none). */
  upstreamRecorded: boolean;
  /** The events come from the gate's connection tap (in front of the upstream), not the upstream itself. */
  tapped?: boolean;
  /** The upstream's connection the previous answer went out on, when it could be matched. */
  connection: number | null;
}

/** How far apart the trial's own figure and the upstream's event may be to be the same answer. */
const MATCH_MS = 1;

export function trialTimeline(whole: readonly HistoryRecord[], trialId: string): TrialTimeline | null {
  const trial = whole.find((r): r is TrialRecord => r.type === 'trial' && r.id === trialId);
  if (!trial) return null;
  // In a merge, the trial's own shard: other machines' clocks and connection numbers are not its.
  const history = shardScope(whole, trial.shard);
  const cell = history.find((r): r is CellRecord => r.type === 'cell' && r.id === trial.cell);
  const upstream = history.filter((r): r is UpstreamEventRecord => r.type === 'upstream');
  // The gap starts at the previous answer's send stamp: find that answer among the upstream's
  // responses (the one closest to it, on the same clock).
  const previousSentAt = trial.sentAt - trial.gapMs;
  let previous: UpstreamEventRecord | null = null;
  if (trial.upstreamConn !== undefined) {
    // The gate's tap names the connection the request went out on (the proxy's pool picks it,
    // not the client's connection): its previous answer is the last one on that connection
    // before the request, none if the proxy opened it for the request. One numbering per run.
    const firstRequest = upstream.find((e) => e.ev === 'request' && e.trial === trial.id && e.conn === trial.upstreamConn);
    for (const event of upstream) {
      if (event.ev === 'response' && event.conn === trial.upstreamConn && firstRequest && event.t <= firstRequest.t && (!previous || event.t > previous.t)) previous = event;
    }
  } else {
    for (const event of upstream) {
      if (event.ev !== 'response' || event.t > trial.sentAt) continue;
      if (Math.abs(event.t - previousSentAt) <= MATCH_MS && (!previous || Math.abs(event.t - previousSentAt) < Math.abs(previous.t - previousSentAt))) previous = event;
    }
  }
  // Who recorded the connection events: the harness's upstream, or the gate's tap in front of the user's.
  const gateRun = history.some((r) => r.type === 'run' && r.settings.command === 'gate');
  const recorder = gateRun ? 'the connection tap saw it' : 'the upstream recorded it';
  const origin = previousSentAt;
  const at = (t: number) => Math.round((t - origin) * 1000) / 1000;
  const events: TimelineEvent[] = [];
  const connection = previous?.conn ?? null;
  events.push(trial.gapClock === 'client'
    ? { atMs: 0, who: 'client', what: 'previous answer on this connection received; the connection is idle from here (as the client reads it)' }
    : { atMs: 0, who: 'upstream', what: previous ? `answer to ${previous.trial ?? 'a priming request'} left on connection ${previous.conn}; the connection is idle from here` : 'previous answer left (by its send stamp); the connection is idle from here' });
  if (previous && trial.gapClock === 'client' && trial.upstreamConn !== undefined) {
    events.push({ atMs: at(previous.t), who: 'upstream', what: `previous answer on connection ${previous.conn} (to ${previous.trial ?? 'a priming request'}) passed the tap; that connection is idle from here` });
  }
  if (connection !== null) {
    // Connection numbers restart with each upstream process (one per topology), so the close
    // is the first one of this number after the previous answer left.
    const close = upstream.find((e) => e.conn === connection && e.ev === 'close' && e.t >= previous!.t);
    if (close) events.push({ atMs: at(close.t), who: 'upstream', what: `connection ${connection} closed, as ${recorder} (${close.by ?? 'unknown'}${typeof close.idleMs === 'number' ? `, idle ${close.idleMs} ms` : ''})` });
  }
  const effective = cell?.effectiveCloseMs;
  events.push({ atMs: at(trial.sentAt), who: 'client', what: `request ${trial.method} written (gap ${trial.gapMs} ms${effective !== undefined ? `, ${formatSigned(trial.gapOffsetMs)} ms from the effective close ${effective} ms` : ''})` });
  const requests = upstream.filter((e) => e.ev === 'request' && e.trial === trial.id);
  for (const request of requests) {
    const opened = trial.upstreamReused === false && request.conn === trial.upstreamConn;
    const where = request.conn === connection ? '' : opened ? ' (a connection the proxy opened for this request)' : ' (a new connection: the proxy retried)';
    events.push({ atMs: at(request.t), who: 'upstream', what: `request ${gateRun ? 'passed the tap' : 'received'} on connection ${request.conn}${where}` });
  }
  for (const line of history.filter((r): r is ProxyLogRecord => r.type === 'proxy-log' && r.trial === trial.id)) {
    events.push({ atMs: at(line.at), who: 'proxy', what: `${line.level}: ${line.reason} (${line.message.replace(/, client: .*$/, '')}) [time read by the harness]` });
  }
  events.push({ atMs: at(trial.endedAt), who: 'client', what: trial.status !== null ? `status ${trial.status} (${trial.errorClass})` : `no answer (${trial.errorClass})` });
  events.sort((a, b) => a.atMs - b.atMs);
  return { trial, cell, events, reachedUpstream: requests.length > 0, upstreamRecorded: upstream.length > 0, connection, tapped: gateRun };
}

/** The first `count` failed trials of a cell, each with its formatted timeline: the reports' samples. */
export function sampleFailureTimelines(history: readonly HistoryRecord[], cellId: string, count = 2): { trial: TrialRecord; text: string }[] {
  return history.filter((r): r is TrialRecord => r.type === 'trial' && r.cell === cellId && r.errorClass !== 'ok').slice(0, count)
    .flatMap((trial) => {
      const timeline = trialTimeline(history, trial.id);
      return timeline ? [{ trial, text: formatTimeline(timeline) }] : [];
    });
}

export function formatTimeline(timeline: TrialTimeline): string {
  const { trial } = timeline;
  const outcome = trial.status !== null && String(trial.status) === trial.errorClass ? trial.errorClass : `${trial.status ?? 'no answer'} (${trial.errorClass})`;
  const aimed = trial.aimOffsetMs === undefined ? `${formatSigned(trial.intendedOffsetMs)} ms` : `${formatSigned(trial.aimOffsetMs)} ms (in the stratum of ${formatSigned(trial.intendedOffsetMs)})`;
  const block = trial.block === undefined ? '' : `, block ${trial.block}`;
  const lines = [`trial ${trial.id} (cell ${trial.cell}, lane ${trial.lane}${block}): ${outcome}, aimed ${aimed} from the ${trial.boundary} boundary, measured ${formatSigned(trial.gapOffsetMs)} ms`];
  const stamp = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(3)}`;
  const width = Math.max(...timeline.events.map((e) => stamp(e.atMs).length));
  for (const event of timeline.events) lines.push(`  ${stamp(event.atMs).padStart(width)} ms  ${event.who.padEnd(8)} ${event.what}`);
  lines.push(!timeline.upstreamRecorded ? '  (the upstream recorded no events: whether the request reached it is not known)'
    : timeline.reachedUpstream ? (timeline.tapped ? '  the request passed the tap to the upstream' : '  the request reached the upstream')
      : timeline.tapped ? '  the request never passed the tap: the proxy sent it nowhere' : '  the request never reached the upstream');
  return lines.join('\n');
}

function formatSigned(value: number): string {
  return `${value >= 0 ? '+' : ''}${value}`;
}
