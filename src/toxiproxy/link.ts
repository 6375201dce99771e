// One direction of one proxied connection: bytes from `source` pass through the chain of
// toxics of that direction and are written to `dest`. As in Toxiproxy's link.go, the end of
// the source (EOF or error) travels down the chain like data, and when it reaches the end the
// destination is fully closed: no half-close passes through, and a reset from one side reaches
// the other as a close.
import type net from 'node:net';
import type { Chunk, Downstream, LinkControl, ToxicStage } from './toxics/toxic.js';
import type { ToxicState } from './toxic-state.js';
import { TOXICS } from './toxics/registry.js';

export class Link {
  private stages: ToxicStage[] = [];
  private head: Downstream;
  private ended = false;
  private readonly sink: Downstream;

  constructor(
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    toxics: readonly ToxicState[],
    private readonly control: LinkControl,
  ) {
    this.sink = {
      push: (chunk) => {
        if (!dest.destroyed) dest.write(chunk.data);
      },
      end: () => {
        if (dest.destroyed) return;
        // As Toxiproxy's link.go (dest.Close()): a full close, at once when everything written
        // has reached the kernel. end() leaves its shutdown() to libuv's next loop turn (a
        // pending callback), and every turn the FIN waits keeps a dead upstream connection
        // looking alive to the proxy: the race window through this server is that much wider.
        if (dest.writableLength === 0 && !dest.pending) dest.destroy();
        else dest.end(() => dest.destroy());
      },
    };
    this.head = this.build(toxics);
    source.on('data', (data: Buffer) => this.head.push({ data, at: process.hrtime.bigint() }));
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      this.head.end();
    };
    source.on('end', end);
    source.on('error', end);
    source.on('close', end);
    // A FIN that came while the source waited for the upstream connect has already emitted
    // 'end' (a paused socket with nothing buffered still ends).
    if (source.readableEnded || source.destroyed) end();
  }

  /** The toxics changed: hand on what the old chain holds, then continue through the new one. */
  rebuild(toxics: readonly ToxicState[]): void {
    const pending: Chunk[] = [];
    // Later stages hold older data: flush from the end of the chain backwards.
    for (const stage of [...this.stages].reverse()) pending.push(...stage.flush());
    for (const chunk of pending) this.sink.push(chunk);
    this.head = this.build(toxics);
    if (this.ended) this.head.end();
  }

  private build(toxics: readonly ToxicState[]): Downstream {
    let next: Downstream = this.sink;
    const stages: ToxicStage[] = [];
    for (const toxic of [...toxics].reverse()) {
      // Toxicity is the chance that this toxic applies to this connection.
      if (!(Math.random() < toxic.toxicity)) continue;
      const stage = TOXICS[toxic.type]!.stage(toxic.attributes, next, this.control);
      stages.unshift(stage);
      next = stage;
    }
    this.stages = stages;
    return next;
  }
}
