// The gate's request, as the user described it (--health-path, --method, --body), and the
// health check that must pass before anything is measured.
import { UsageError } from '../util/errors.js';
import { hostPort } from '../util/ports.js';
import { HttpConnection } from '../workload/http-connection.js';
import type { UserUpstream } from './user-upstream.js';

export interface RequestSettings {
  healthPath: string;
  method: string;
  body?: string;
}

/** The request, with the trial's id in its query when `trialId` is given. */
export function buildRequest(settings: RequestSettings, host: string, trialId: string | null): string {
  const body = settings.body ?? '';
  const target = trialId === null ? settings.healthPath : `${settings.healthPath}${settings.healthPath.includes('?') ? '&' : '?'}t=${encodeURIComponent(trialId)}`;
  const lines = [`${settings.method} ${target} HTTP/1.1`, `Host: ${host}`, 'User-Agent: keepalive-lab-gate'];
  if (body || !['GET', 'HEAD'].includes(settings.method)) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * The upstream must serve the request before anything is measured. Returns whether it serves it
 * with the trial id in the query too (most applications ignore a query parameter they do not know).
 */
export async function healthCheck(upstream: UserUpstream, settings: RequestSettings): Promise<boolean> {
  const host = hostPort(upstream.endpoint.host, upstream.endpoint.port);
  const answer = async (trialId: string | null) => {
    const connection = new HttpConnection(upstream.endpoint);
    try {
      await connection.connect(5000);
      const result = await connection.send(buildRequest(settings, host, trialId), 5000);
      if (result.invalidResponse !== undefined) throw new UsageError(`the upstream at ${host} is not an HTTP/1.1 server (${result.invalidResponse}): the gate measures HTTP/1.1 keep-alive; give an HTTP/1.1 upstream`);
      return result;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`the upstream did not answer ${settings.method} ${settings.healthPath}: ${(error as Error).message}`);
    } finally {
      connection.close();
    }
  };
  const served = (result: { status: number | null }) => result.status !== null && result.status < 400;
  if (served(await answer('health'))) return true;
  const plain = await answer(null);
  if (served(plain)) return false;
  throw new UsageError(`the upstream answered ${plain.status ?? plain.errorClass} to ${settings.method} ${settings.healthPath}: give a path it serves with --health-path (and --method, --body)`);
}
