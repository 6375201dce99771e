// What a run started, to be stopped newest first. A run cut short (a guard tripped while a step
// was still starting something) must not leave that late part running: one registered after
// the list was stopped is stopped at once.
export type Stop = () => Promise<void>;

export class StopList {
  private readonly stops: Stop[] = [];
  private stopped = false;

  push(stop: Stop): void {
    if (this.stopped) void stop().catch(() => {});
    else this.stops.push(stop);
  }

  /** Stopped last (a history closes after everything that writes to it). */
  unshift(stop: Stop): void {
    if (this.stopped) void stop().catch(() => {});
    else this.stops.unshift(stop);
  }

  /** Stops everything, newest first; errors are swallowed (each part says its own). */
  async stopAll(): Promise<void> {
    this.stopped = true;
    for (const stop of this.stops.splice(0).reverse()) await stop().catch(() => {});
  }
}
