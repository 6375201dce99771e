// What every runtime does with a running Toxiproxy, real or embedded, through
// toxiproxy-node-client: name its version, and create the proxy a topology routes through.
import { Toxiproxy } from 'toxiproxy-node-client';
import type { Fault } from '../faults/fault.js';

/** `GET /version` answers `{"version":"2.12.0"}` on current servers, plain text on older ones. */
export function toxiproxyVersionName(answer: string): string {
  try {
    return (JSON.parse(answer) as { version: string }).version;
  } catch {
    return answer.trim();
  }
}

/** Creates the proxy the topology routes through, with the cell's faults as toxics. */
export async function createFaultProxy(url: string, upstream: string, faults: readonly Fault[], listen = '127.0.0.1:0'): Promise<string> {
  const client = new Toxiproxy(url);
  const proxy = await client.createProxy({ name: 'keepalive_lab_upstream', listen, upstream });
  for (const [index, fault] of faults.entries()) {
    await proxy.addToxic({
      name: `${fault.type}_${fault.stream}_${index}`,
      type: fault.type as never,
      stream: fault.stream,
      toxicity: fault.toxicity,
      attributes: fault.attributes as never,
    });
  }
  return proxy.listen;
}
