// Process-wide teardown: everything a run starts (child processes, temp dirs) registers its
// undo here, so that success, failure, an exception, SIGINT and SIGTERM all end the same way.

type Undo = () => Promise<void> | void;

const pending = new Set<Undo>();
let signalsInstalled = false;
let shuttingDown = false;

/**
 * True once a SIGINT/SIGTERM arrived. From then on the topology is being torn down (and a
 * terminal's Ctrl-C reaches nginx and the upstream directly too), so what a trial sees is the
 * teardown, not the race: the workload records nothing more.
 */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

/**
 * Registers an undo; the returned function runs it once and unregisters it. A second call while
 * the first still runs waits for it: a run stopping on its own path when Ctrl-C arrives must not
 * go on (closing the history) while a part is still stopping (a capture waits 1.2 s).
 */
export function onCleanup(undo: Undo): () => Promise<void> {
  installSignalHandlers();
  let running: Promise<void> | null = null;
  const runOnce = (): Promise<void> => {
    running ??= (async () => {
      pending.delete(runOnce);
      await undo();
    })();
    return running;
  };
  pending.add(runOnce);
  return runOnce;
}

/** Runs every registered undo, newest first; errors are reported, never thrown. */
export async function cleanupAll(): Promise<void> {
  for (const undo of [...pending].reverse()) {
    try {
      await undo();
    } catch (error) {
      process.stderr.write(`keepalive-lab: cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    // Handled on every arrival: with `once`, a second Ctrl-C (people press it twice) met the
    // default action and killed the process before the history was closed and the reports
    // written. Stopping takes a few seconds at most; a later signal only says so.
    process.on(signal, () => {
      if (shuttingDown) {
        process.stderr.write(`keepalive-lab: still stopping: closing the history and writing the reports (kill -9 abandons them)\n`);
        return;
      }
      shuttingDown = true;
      if (pending.size > 0) process.stderr.write(`\nkeepalive-lab: ${signal} received, stopping everything started\n`);
      void cleanupAll().finally(() => process.exit(code));
    });
  }
}
