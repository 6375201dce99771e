// Reads Caddy's JSON log lines into proxy-log records keyed to trials. Caddy logs a failed
// proxied request at error level (logger http.log.error) with the request's URI and the error
// of the round trip; a request Go's transport retried by itself writes no line at all.
import type { ProxyLogReason, ProxyLogRecord } from '../../history/records.js';

const TRIAL_IN_URI = /[?&]t=([^&]+)/;

// The round trip's error as Go's net/http reports it (the message of the error line).
const REASONS: [RegExp, ProxyLogReason][] = [
  // EOF before any answer, or a write on the connection Go already saw closed.
  [/\bEOF\b|use of closed network connection|server closed idle connection/, 'prematurely_closed'],
  [/connection reset by peer/, 'reset_by_peer'],
  [/broken pipe/, 'broken_pipe'],
  [/connection refused/, 'refused'],
  [/timeout|deadline exceeded/, 'timed_out'],
];

export function classifyCaddyError(message: string): ProxyLogReason {
  for (const [pattern, reason] of REASONS) if (pattern.test(message)) return reason;
  return 'other';
}

interface CaddyLogLine {
  level?: string;
  logger?: string;
  msg?: string;
  error?: string;
  request?: { uri?: string };
}

/** One log line to a record, or null for a line that says nothing about a trial (start-up, info). */
export function parseCaddyLogLine(line: string, readAt: number): ProxyLogRecord | null {
  let entry: CaddyLogLine;
  try {
    entry = JSON.parse(line) as CaddyLogLine;
  } catch {
    return null;
  }
  if (typeof entry !== 'object' || entry === null) return null;
  const level = String(entry.level ?? '');
  // Errors only: its warnings are start-up notes ("admin endpoint disabled"), not trials' fates.
  if (!['error', 'fatal', 'panic'].includes(level)) return null;
  const message = `${entry.msg ?? ''}${entry.error ? `: ${entry.error}` : ''}`;
  const uri = typeof entry.request?.uri === 'string' ? entry.request.uri : '';
  return {
    type: 'proxy-log',
    at: readAt,
    level,
    reason: classifyCaddyError(message),
    trial: TRIAL_IN_URI.exec(uri)?.[1] ?? null,
    message: line,
  };
}
