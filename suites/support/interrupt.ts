// Ctrl-C as a terminal sends it, for the suites that check a run's cleanup: start the command in
// its own process group, wait until it has written trials, signal the whole group, and report how
// it exited (a terminal's Ctrl-C reaches nginx and the upstream too, not only the harness).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Interrupted {
  /** The exit code, or the signal when it died of one. */
  code: number | NodeJS.Signals | null;
  stderr: string;
  /** Whether trials were in the history when the signal went. */
  hadTrials: boolean;
}

/** `presses`: how many Ctrl-C, 5 ms apart (people press it twice; soon after the first the harness is still free to hear it). */
export async function interruptOnceTrialsAreWritten(cli: string, args: string[], out: string, env: NodeJS.ProcessEnv,
  beforeSignal: () => void = () => {}, presses = 1): Promise<Interrupted> {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? signal)));
  const historyPath = path.join(out, 'trials.jsonl');
  const hasTrials = () => fs.existsSync(historyPath) && fs.readFileSync(historyPath, 'utf8').includes('"type":"trial"');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !hasTrials()) await new Promise((resolve) => setTimeout(resolve, 100));
  const hadTrials = hasTrials();
  beforeSignal();
  for (let press = 0; press < presses; press++) {
    if (press > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      // the group is gone already
    }
  }
  return { code: await exited, stderr, hadTrials };
}
