// The one URL a field run sends to, and the request it sends there: the user's method, headers
// and body, with a User-Agent that names the tool. Before anything is measured, one request
// must get an answer the service serves: an unreachable URL, a certificate that is not trusted,
// a 404 or a service already failing is bad input (one line, exit 2), not a finding.
import { createRequire } from 'node:module';
import net from 'node:net';
import { UsageError } from '../util/errors.js';
import { hostPort, socketHost } from '../util/ports.js';
import type { Endpoint } from '../vocabulary.js';
import { HttpConnection, type ExchangeResult, type TlsSettings } from '../workload/http-connection.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
/** Every request says who sends it, so that the service's owners can see it in their logs. */
export const USER_AGENT = `keepalive-lab/${version} (field mode; https://www.npmjs.com/package/keepalive-lab)`;

export interface FieldTarget {
  /** The URL as given, for the reports (without credentials). */
  url: string;
  endpoint: Endpoint;
  tls: TlsSettings | null;
  method: string;
  /** The raw request every trial sends. */
  request: string;
  /** Header names the user added (their values stay out of the run directory: they may be secrets). */
  headerNames: string[];
  bodyBytes: number;
}

export interface TargetInput {
  url: string;
  method: string;
  headers: string[];
  body?: string;
  /** Extra certificate authorities to trust (PEM), for a service with a private CA. */
  ca?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MANAGED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

export function fieldTarget(input: TargetInput): FieldTarget {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new UsageError(`--url "${input.url}" is not a URL: give one like http://staging.example:8080/health`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url ${input.url}: field mode speaks HTTP/1.1 over http: or https:, not ${url.protocol}`);
  if (url.username || url.password) throw new UsageError(`--url ${input.url}: credentials in the URL would be written to the run directory; send them with --header "Authorization: ..."`);
  const method = input.method.toUpperCase();
  if (!TOKEN.test(method)) throw new UsageError(`--method "${input.method}" is not an HTTP method`);
  // CONNECT asks for a tunnel (its target is host:port, not the URL's path): no pool to measure.
  if (method === 'CONNECT') throw new UsageError('--method CONNECT opens a tunnel, not a request a load balancer pools: use the method your clients send (GET, POST, ...)');
  const headerLines = input.headers.map(headerLine);
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  const host = socketHost(url);
  const body = input.body ?? '';
  const userSetsType = headerLines.some((line) => /^content-type:/i.test(line));
  const userSetsAgent = headerLines.some((line) => /^user-agent:/i.test(line));
  const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, ...(userSetsAgent ? [] : [`User-Agent: ${USER_AGENT}`]), ...headerLines];
  if (body || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method)) {
    if (!userSetsType && body) lines.push('Content-Type: application/json');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  return {
    url: `${url.protocol}//${url.host}${url.pathname}${url.search}`,
    endpoint: { host, port },
    tls: https ? { ...(net.isIP(host) ? {} : { servername: host }), ...(input.ca ? { ca: input.ca } : {}) } : null,
    method,
    request: `${lines.join('\r\n')}\r\n\r\n${body}`,
    headerNames: headerLines.map((line) => line.slice(0, line.indexOf(':'))),
    bodyBytes: Buffer.byteLength(body),
  };
}

/** "Name: value" as a header line; no line breaks (they would smuggle a second request). */
function headerLine(text: string): string {
  const colon = text.indexOf(':');
  const name = colon > 0 ? text.slice(0, colon).trim() : '';
  const value = colon > 0 ? text.slice(colon + 1).trim() : '';
  if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) throw new UsageError(`--header ${JSON.stringify(text)} is not "Name: value" on one line`);
  if (MANAGED_HEADERS.has(name.toLowerCase())) throw new UsageError(`--header ${name}: field mode sets ${name} itself; leave it out`);
  return `${name}: ${value}`;
}

/** Certificate errors as Node's TLS names them: each means the service's certificate is not trusted. */
const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/;

/**
 * One request on a fresh connection, as a trial sends it: the service must answer it with a
 * status it serves. Retried twice on a 5xx (a single 502 could be the race itself).
 */
export async function preflight(target: FieldTarget, timeoutMs = 10_000, deadlineMs = Infinity): Promise<ExchangeResult> {
  let last: ExchangeResult | null = null;
  // Each attempt within what is left of the run's time budget (at least a second).
  for (let attempt = 0; attempt < 3 && (attempt === 0 || Date.now() < deadlineMs); attempt++) {
    last = await exchangeOnce(target, Math.max(1000, Math.min(timeoutMs, deadlineMs - Date.now())));
    if (last.status !== null && last.status < 500) break;
  }
  const result = last!;
  if (result.invalidResponse !== undefined) throw new UsageError(`${target.url} is not an HTTP/1.1 service (${result.invalidResponse}): field mode measures HTTP/1.1 keep-alive`);
  if (result.status === null) throw new UsageError(`${target.url} closed the connection without an answer (${result.errorClass}), 3 times: check the URL and that the service is up`);
  // A redirect is answered by whoever redirects, often the load balancer itself: no request
  // would reach the upstream's pool, and "no race" would be said of a path never measured.
  if (result.status >= 300 && result.status < 400) throw new UsageError(`${target.method} ${target.url} answered ${result.status}${result.headers.location ? ` to ${result.headers.location}` : ''}: give the URL it redirects to`);
  if (result.status >= 400) {
    const fix = result.status >= 500 ? 'the service is failing already; field mode measures a stack that serves' : `give a URL it serves (and the --method, --header and --body it accepts)`;
    throw new UsageError(`${target.method} ${target.url} answered ${result.status}: ${fix}`);
  }
  return result;
}

async function exchangeOnce(target: FieldTarget, timeoutMs: number): Promise<ExchangeResult> {
  const connection = new HttpConnection(target.endpoint, target.tls);
  const where = hostPort(target.endpoint.host, target.endpoint.port);
  try {
    await connection.connect(timeoutMs);
    return await connection.send(target.request, timeoutMs);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ETIMEDOUT') throw new UsageError(`nothing answered at ${where} within ${timeoutMs / 1000} s: check --url (and that this machine may reach it)`);
    if (code === 'ECONNREFUSED') throw new UsageError(`nothing listens at ${where} (connection refused): check --url`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`cannot resolve ${target.endpoint.host}: check --url`);
    if (code && CERT_ERRORS.test(code)) throw new UsageError(`the certificate of ${target.url} is not trusted (${message}): give its CA with --ca FILE, or the name it was issued for`);
    if (/wrong version number|packet length too long|EPROTO/i.test(`${code} ${message}`)) throw new UsageError(`${where} does not speak TLS: use http:// in --url`);
    throw new UsageError(`cannot reach ${target.url}: ${message}`);
  } finally {
    connection.close();
  }
}
