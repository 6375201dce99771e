// What every toxic is: typed attributes named as on the wire, and a stage that sits in one
// direction of one connection. Adding a toxic is one file in this folder plus its line in
// registry.ts, as in Toxiproxy's toxics/.

/** A piece of the byte stream, with the hrtime it arrived at the proxy. */
export interface Chunk {
  data: Buffer;
  at: bigint;
}

/** Where a stage hands data on: the next stage, or the destination socket. */
export interface Downstream {
  push(chunk: Chunk): void;
  /** The source is done (EOF or error): close what comes after, once pending data is out. */
  end(): void;
}

/** What a stage may do to the connection as a whole. */
export interface LinkControl {
  /** Resolves at (not before, within the scheduler's precision) the hrtime instant. */
  at(dueNs: bigint): Promise<void>;
  /** Tear the connection down with RST on both sides (reset_peer). */
  reset(): void;
}

export interface ToxicStage extends Downstream {
  /** Stop timers and return data not yet handed on, in order (the chain is changing). */
  flush(): Chunk[];
}

export interface ToxicDefinition<Attributes extends Record<string, number>> {
  type: string;
  /** Attributes with Toxiproxy's zero defaults; also the list of known attribute names. */
  defaults: Attributes;
  stage(attributes: Attributes, next: Downstream, link: LinkControl): ToxicStage;
}

export const msToNs = (ms: number): bigint => BigInt(Math.round(ms * 1e6));

/**
 * The common shape of a stage that delays chunks in order: each chunk is handed on at the
 * instant `dueOf` gives it (never before the previous one), and EOF follows the last chunk.
 */
export function orderedDelayStage(next: Downstream, link: LinkControl, dueOf: (chunk: Chunk, previousDueNs: bigint) => bigint): ToxicStage {
  const queue: { chunk: Chunk; dueNs: bigint }[] = [];
  let lastDueNs = 0n;
  let ended = false;
  let stopped = false;
  let draining = false;
  const drain = async () => {
    draining = true;
    while (queue.length > 0 && !stopped) {
      await link.at(queue[0]!.dueNs);
      if (stopped) break;
      next.push(queue.shift()!.chunk);
    }
    draining = false;
    if (ended && !stopped && queue.length === 0) next.end();
  };
  return {
    push(chunk) {
      const dueNs = dueOf(chunk, lastDueNs);
      lastDueNs = dueNs > lastDueNs ? dueNs : lastDueNs;
      queue.push({ chunk, dueNs: lastDueNs });
      if (!draining) void drain();
    },
    end() {
      ended = true;
      // An EOF on an idle link passes at once: only data ahead of it delays it.
      if (!draining && queue.length === 0) next.end();
    },
    flush() {
      stopped = true;
      return queue.splice(0).map((entry) => entry.chunk);
    },
  };
}
