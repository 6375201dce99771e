// How many new connections the user's upstream takes at once. A burst opens its connections all
// at once (as a proxy does for a burst of requests), and an upstream with a short accept queue
// (Python's standard server: 5) answers the overflow only after SYN retransmits, a second or
// more later. Behind a proxy that drops idle connections sooner than that, the next burst finds
// its connections gone and storms the queue again: requests time out for a reason that is not
// the race, and the run cannot decide. So the gate sizes its bursts to what the upstream takes,
// measured here straight against it (fresh connections each round, no pool in the way).
import type { Endpoint } from '../vocabulary.js';
import { HttpConnection } from '../workload/http-connection.js';

/** An answer this late on a fresh connection waited out a SYN retransmit (Linux's first: 1 s). */
const HELD_UP_MS = 500;
const SMALLEST_BURST = 2;

export interface AcceptCapacity {
  /** The largest burst (from the start, halving) whose answers all came within HELD_UP_MS. */
  burst: number;
  /** The first burst size that was held up, or null when the first was not. */
  heldUpAt: number | null;
  /** The slowest answer of that held-up round (ms, from connect to answer). */
  heldUpMs: number | null;
}

export async function acceptCapacity(endpoint: Endpoint, request: string, start: number, timeoutMs = 10_000): Promise<AcceptCapacity> {
  let heldUpAt: number | null = null;
  let heldUpMs: number | null = null;
  for (let burst = start; ; burst = Math.max(SMALLEST_BURST, Math.floor(burst / 2))) {
    const slowestMs = await slowestAnswer(endpoint, request, burst, timeoutMs);
    if (slowestMs < HELD_UP_MS || burst <= SMALLEST_BURST) return { burst, heldUpAt, heldUpMs };
    if (heldUpAt === null) {
      heldUpAt = burst;
      heldUpMs = Number.isFinite(slowestMs) ? Math.round(slowestMs) : null;
    }
  }
}

/** Opens `count` connections at once, sends the request on each, and times the slowest answer. */
async function slowestAnswer(endpoint: Endpoint, request: string, count: number, timeoutMs: number): Promise<number> {
  const connections = Array.from({ length: count }, () => new HttpConnection(endpoint));
  try {
    const times = await Promise.all(connections.map(async (connection) => {
      const started = process.hrtime.bigint();
      try {
        await connection.connect(timeoutMs);
        await connection.send(request, timeoutMs);
      } catch {
        // A refused or failed connect is as good as held up: this many is too many.
        return Number.POSITIVE_INFINITY;
      }
      return Number(process.hrtime.bigint() - started) / 1e6;
    }));
    return Math.max(...times);
  } finally {
    for (const connection of connections) connection.close();
  }
}
