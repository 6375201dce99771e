// Reads HAProxy's access-log lines (HAPROXY_LOG_FORMAT) into proxy-log records keyed to trials.
// Only requests that went wrong or were retried become records, as with nginx's error log.
import type { ProxyLogReason, ProxyLogRecord } from '../../history/records.js';

const LINE = /^keepalive-lab status=(-?\d+) term=(\S\S) retries=\+?(\d+) tr=(-?\d+) req="([^"]*)"/;
const TRIAL_IN_REQUEST = /^[A-Z]+ [^ ]*[?&]t=([^& ]+)/;

/** The reason for a logged request, or null when it went through at the first attempt. */
export function haproxyReason(status: number, termination: string, retries: number): ProxyLogReason | null {
  if (status >= 500 || status < 0) return termination.startsWith('S') ? 'server_aborted' : termination.startsWith('s') ? 'timed_out' : 'other';
  return retries > 0 ? 'retried' : null;
}

export function parseHaproxyLogLine(line: string, readAt: number): ProxyLogRecord | null {
  const match = LINE.exec(line);
  if (!match) {
    // Start-up and runtime notices: keep the alerts and warnings, as nginx's [warn] and up.
    const notice = /^\[(ALERT|WARNING)\]/.exec(line);
    return notice ? { type: 'proxy-log', at: readAt, level: notice[1]!.toLowerCase(), reason: 'other', trial: null, message: line } : null;
  }
  const status = Number(match[1]);
  const termination = match[2]!;
  const retries = Number(match[3]);
  const reason = haproxyReason(status, termination, retries);
  if (!reason) return null;
  return {
    type: 'proxy-log',
    at: readAt,
    level: reason === 'retried' ? 'info' : 'error',
    reason,
    trial: TRIAL_IN_REQUEST.exec(match[5]!)?.[1] ?? null,
    message: line,
  };
}
