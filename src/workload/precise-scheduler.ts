// Fires callbacks at hrtime instants. Node's timers have whole-millisecond resolution and fire
// up to ~1.6 ms early on this kind of machine (docs/race.md#timing-on-a-small-machine), which would smear a 2 ms window. So
// a timer takes us to within `spinMs` of the next instant, and from there the loop polls with
// setImmediate (I/O runs between polls), sleeping a 100 us slice per poll, until the instant
// has passed. With spinMs = 0 it is a plain timer scheduler: later, and analysis bins by the
// measured gap either way.

const SLICE_NS = 100_000n;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

interface Entry {
  dueNs: bigint;
  fire: () => void;
}

export class PreciseScheduler {
  private readonly queue: Entry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly spinNs: bigint;

  constructor(spinMs = 2) {
    this.spinNs = BigInt(Math.round(spinMs * 1e6));
  }

  /** Resolves at (not before) the hrtime instant `dueNs`. */
  at(dueNs: bigint): Promise<void> {
    return new Promise((resolve) => {
      // Keep the queue sorted by due time: lanes are few (hundreds), so a binary-search insert
      // is cheaper than a heap's bookkeeping.
      let low = 0;
      let high = this.queue.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.queue[mid]!.dueNs <= dueNs) low = mid + 1; else high = mid;
      }
      this.queue.splice(low, 0, { dueNs, fire: resolve });
      if (low === 0) this.arm();
    });
  }

  /** Resolves every waiting instant now and disarms: a run that has ended wakes its waiters at once. */
  releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    for (const entry of this.queue.splice(0)) entry.fire();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = this.queue[0];
    if (!next) return;
    const remainingNs = next.dueNs - process.hrtime.bigint();
    if (remainingNs > this.spinNs) {
      // Aim the coarse timer a millisecond short: it may fire early or late by about that much.
      const delayMs = Math.max(0, Number(remainingNs - this.spinNs) / 1e6 - 1);
      this.timer = setTimeout(() => this.poll(), delayMs);
    } else if (!this.immediate) {
      this.immediate = setImmediate(() => this.poll());
    }
  }

  private poll(): void {
    this.immediate = null;
    this.timer = null;
    let now = process.hrtime.bigint();
    // Inside the spin window, sleep in short slices instead of spinning hot: a hot loop took a
    // whole core, and on 2 cores nginx, the upstream and the fault layer then waited for CPU
    // (trial latency p99 29 ms through a 10 ms latency toxic). Atomics.wait sleeps in the
    // kernel with sub-millisecond precision; a slice of at most SLICE_NS holds I/O back by
    // no more than that.
    const next = this.queue[0];
    if (next && next.dueNs > now) {
      const sleepNs = next.dueNs - now < SLICE_NS ? next.dueNs - now : SLICE_NS;
      Atomics.wait(SLEEPER, 0, 0, Number(sleepNs) / 1e6);
      now = process.hrtime.bigint();
    }
    let due = 0;
    while (due < this.queue.length && this.queue[due]!.dueNs <= now) due++;
    const fired = this.queue.splice(0, due);
    for (const entry of fired) entry.fire();
    this.arm();
  }
}
