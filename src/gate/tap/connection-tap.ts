// The gate's connection tap: a relay between the proxy and the user's upstream that records
// every proxy-to-upstream connection (open, each request by its trial id, the answer, the close
// and who closed it). The user's upstream records nothing itself, and nginx does not log
// whether a request reused an upstream connection; the tap gives each trial that fact and the
// upstream's own close, timed, which is what tells the race from other failures.
// The relay runs in a worker thread (tap-worker.ts says why); its cost is in docs/benchmarks.md.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Endpoint } from '../../vocabulary.js';
import { UsageError } from '../../util/errors.js';
import type { TapEvent, TapMessage, TapWorkerData } from './tap-worker.js';

export type { TapEvent } from './tap-worker.js';

// The compiled worker: src/gate/tap/ and dist/gate/tap/ are both three levels below the package root.
const WORKER_ENTRY = fileURLToPath(new URL('../../../dist/gate/tap/tap-worker.js', import.meta.url));

export interface ConnectionTap {
  /** host:port the proxy sends to instead of the upstream. */
  address: string;
  /** Every event so far, in the order the tap sent them. */
  readonly events: readonly TapEvent[];
  /** Called with each batch of events as it arrives. */
  onEvents(listener: (events: readonly TapEvent[]) => void): void;
  stop(): Promise<void>;
}

export async function startConnectionTap(upstream: Endpoint): Promise<ConnectionTap> {
  if (!fs.existsSync(WORKER_ENTRY)) throw new UsageError(`the gate's connection tap needs the build (${WORKER_ENTRY}): run "npm run build"`);
  const worker = new Worker(WORKER_ENTRY, { workerData: { upstreamHost: upstream.host, upstreamPort: upstream.port } satisfies TapWorkerData });
  const events: TapEvent[] = [];
  const listeners: ((events: readonly TapEvent[]) => void)[] = [];
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('message', (message: TapMessage) => {
      if (message.kind === 'listening') resolve(message.port);
      else if (message.kind === 'error') reject(new Error(`the connection tap failed: ${message.message}`));
      else {
        events.push(...message.events);
        for (const listener of listeners) listener(message.events);
      }
    });
    worker.once('error', (error) => reject(new Error(`the connection tap failed: ${error.message}`)));
    worker.once('exit', (code) => reject(new Error(`the connection tap ended (${code}) before it listened`)));
  });
  let stopped = false;
  return {
    address: `127.0.0.1:${port}`,
    events,
    onEvents: (listener) => { listeners.push(listener); },
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.postMessage({ kind: 'stop' });
      // A thread that does not end by itself is ended.
      const timer = setTimeout(() => void worker.terminate(), 1000);
      await exited;
      clearTimeout(timer);
    },
  };
}
