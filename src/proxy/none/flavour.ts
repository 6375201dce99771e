// No proxy: the clients of `--clients` talk to the upstream (or the fault layer in front of it)
// straight, and what races is the client's own pool (the race one hop earlier).
import { createRequire } from 'node:module';
import type { ProxyFlavour } from '../flavour.js';

export const noProxy: ProxyFlavour = {
  name: 'none',
  title: 'no proxy',
  passThrough: true,
  // Nothing retries but the client itself.
  retryPolicies: ['off'],
  // P is only the node-agent-timeout client's own idle timeout and the other clients have none:
  // one pairing, fired at the upstream's close.
  sweepDefaults: { retry: ['off'], proxyTimeout: [60_000], boundaries: 'upstream' },
  idleSetting: "the client's idle timeout",
  logTitle: 'proxy log (none: no proxy)',
  // The clients are what is measured: their versions belong with the run.
  extraVersions: () => ({ undici: undiciVersion() }),
};

/** The undici version the undici client runs (its package.json; it exports no version constant). */
function undiciVersion(): string {
  try {
    return (createRequire(import.meta.url)('undici/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
