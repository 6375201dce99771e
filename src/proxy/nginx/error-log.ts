// Reads nginx error-log lines into classified reasons, keyed to the trial that caused them.
import type { ProxyLogReason, ProxyLogRecord } from '../../history/records.js';

const LINE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$/;
const TRIAL_IN_REQUEST = /request: "[A-Z]+ [^"]*[?&]t=([^&" ]+)/;
const KEPT_LEVELS = new Set(['warn', 'error', 'crit', 'alert', 'emerg']);

// The messages nginx writes for a failed upstream exchange (ngx_http_upstream.c).
const REASONS: [RegExp, ProxyLogReason][] = [
  [/upstream prematurely closed connection/, 'prematurely_closed'],
  [/\(104: Connection reset by peer\)/, 'reset_by_peer'],
  [/\(32: Broken pipe\)/, 'broken_pipe'],
  [/\(111: Connection refused\)/, 'refused'],
  [/timed out/, 'timed_out'],
];

export function classifyNginxMessage(message: string): ProxyLogReason {
  for (const [pattern, reason] of REASONS) if (pattern.test(message)) return reason;
  return 'other';
}

/**
 * One error-log line to a record, or null for lines that say nothing about a trial's fate
 * (info-level client chatter, start-up notices).
 */
export function parseNginxErrorLine(line: string, readAt: number): ProxyLogRecord | null {
  const match = LINE.exec(line);
  if (!match) return null;
  const level = match[1]!;
  const message = match[2]!;
  const aboutUpstream = message.includes('upstream');
  if (!KEPT_LEVELS.has(level) && !(level === 'info' && aboutUpstream)) return null;
  return {
    type: 'proxy-log',
    at: readAt,
    level,
    reason: classifyNginxMessage(message),
    trial: TRIAL_IN_REQUEST.exec(message)?.[1] ?? null,
    message,
  };
}
