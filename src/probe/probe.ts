// Boundary discovery: how long after a response does the upstream really close an idle
// keep-alive connection? Configuration is not evidence (Node 20 closes at keepAliveTimeout +
// 1000 ms), so this opens connections straight to any HTTP/1.1 address, sends one request on
// each, and times the end of the response to the FIN or RST as the client receives it.
import net from 'node:net';
import pLimit from 'p-limit';
import type { ProbeSummary } from '../history/records.js';
import type { Endpoint } from '../vocabulary.js';
import { hostPort } from '../util/ports.js';
import { quantile } from '../util/stats.js';
import { answerSentAt } from '../workload/clock.js';
import { ResponseReader } from '../workload/http-response.js';

export interface ProbeOptions {
  samples?: number;
  /** Connections open at once. */
  concurrency?: number;
  /**
   * Connections waiting for their answer at once (default: all that are open). An upstream with
   * a short accept queue answers a storm of new connections only after SYN retransmits; opened
   * a few at a time, hundreds still wait out their idle close side by side.
   */
  openAtOnce?: number;
  /** Give up on a connection still open this long after its answer (the idle time waited for). */
  maxWaitMs?: number;
  path?: string;
}

export interface ProbeResult extends ProbeSummary {
  closeTimesMs: number[];
}

interface Sample {
  closeMs: number | null;
  closedBy: 'fin' | 'rst' | 'still-open' | 'error' | 'refused' | 'not-http';
  keepAliveHeader: string | null;
  /** What the server sent instead of an HTTP response (closedBy not-http). */
  invalid?: string;
}

/**
 * The address is wrong, not the timing: nothing listens there, or what answers is not an HTTP
 * server. Callers tell their users to fix the address instead of waiting longer.
 */
export class ProbeAddressError extends Error {}

export async function probeIdleClose(endpoint: Endpoint, options: ProbeOptions = {}): Promise<ProbeResult> {
  const { samples = 40, concurrency = 20, maxWaitMs = 120_000, path = '/' } = options;
  const limit = pLimit(concurrency);
  const opening = pLimit(options.openAtOnce ?? concurrency);
  const results = await Promise.all(Array.from({ length: samples }, () => limit(async () => {
    // The opening slot is held until the answer is in (or the sample ends without one).
    let sample!: Promise<Sample>;
    await opening(() => new Promise<void>((answered) => {
      sample = oneSample(endpoint, path, maxWaitMs, answered);
      void sample.then(() => answered());
    }));
    return sample;
  })));
  const closeTimesMs = results.flatMap((sample) => (sample.closeMs === null ? [] : [sample.closeMs]));
  const closedBy: Record<string, number> = {};
  for (const sample of results) closedBy[sample.closedBy] = (closedBy[sample.closedBy] ?? 0) + 1;
  if (closeTimesMs.length === 0) {
    const where = hostPort(endpoint.host, endpoint.port);
    if (closedBy.refused === results.length) throw new ProbeAddressError(`nothing listens at ${where} (connection refused)`);
    const invalid = results.find((sample) => sample.invalid !== undefined)?.invalid;
    if (invalid !== undefined) throw new ProbeAddressError(`${where} is not an HTTP/1.1 server: ${invalid}`);
    const how = Object.entries(closedBy).map(([k, v]) => `${v} ${k}`).join(', ');
    throw new Error(`probe: ${endpoint.host}:${endpoint.port} closed no idle connection within ${maxWaitMs} ms (${how}); raise the probe's max wait or check the address`);
  }
  return {
    samples: closeTimesMs.length,
    medianCloseMs: round3(quantile(closeTimesMs, 0.5)),
    p5CloseMs: round3(quantile(closeTimesMs, 0.05)),
    p95CloseMs: round3(quantile(closeTimesMs, 0.95)),
    closedBy,
    advertisedKeepAlive: results.find((sample) => sample.keepAliveHeader)?.keepAliveHeader ?? null,
    closeTimesMs,
  };
}

/** How long a probe connection may take to get its answer, on top of the idle wait. */
const ANSWER_TIMEOUT_MS = 15_000;

function oneSample(endpoint: Endpoint, path: string, maxWaitMs: number, onAnswer: () => void = () => {}): Promise<Sample> {
  return new Promise((resolve) => {
    const socket = net.connect(endpoint.port, endpoint.host);
    socket.setNoDelay(true);
    const reader = new ResponseReader();
    let responseEndNs: bigint | null = null;
    let keepAliveHeader: string | null = null;
    let settled = false;
    const settle = (closedBy: Sample['closedBy'], invalid?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const closeMs = responseEndNs !== null && (closedBy === 'fin' || closedBy === 'rst')
        ? Number(process.hrtime.bigint() - responseEndNs) / 1e6 : null;
      const unanswered = responseEndNs === null && (closedBy === 'fin' || closedBy === 'rst');
      resolve({ closeMs, closedBy: unanswered ? 'error' : closedBy, keepAliveHeader, ...(invalid !== undefined && { invalid }) });
    };
    // The wait is for the idle close: it starts when the answer is in. Getting the answer (a
    // connect that waits out a full accept queue's SYN retransmits) has its own bound.
    let timer = setTimeout(() => settle('still-open'), ANSWER_TIMEOUT_MS + maxWaitMs);
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostPort(endpoint.host, endpoint.port)}\r\nUser-Agent: keepalive-lab-probe\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      if (responseEndNs !== null) return;
      const read = reader.push(chunk);
      if (!read) return;
      if ('invalid' in read) {
        settle('not-http', read.invalid);
        return;
      }
      const parsed = read.response;
      // The idle time starts when the answer left the server: its send stamp when it gives one
      // (our upstream program does), else now. The workload measures gaps the same way.
      responseEndNs = answerSentAt(parsed.headers, process.hrtime.bigint()).ns;
      keepAliveHeader = parsed.headers['keep-alive'] ?? null;
      onAnswer();
      clearTimeout(timer);
      timer = setTimeout(() => settle('still-open'), maxWaitMs);
    });
    socket.on('end', () => settle('fin'));
    socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ECONNRESET' ? 'rst' : error.code === 'ECONNREFUSED' ? 'refused' : 'error'));
    socket.on('close', () => settle('fin'));
  });
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
