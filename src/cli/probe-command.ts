// `keepalive-lab probe`: the effective idle-close time of any HTTP/1.1 address.
import { Command } from 'commander';
import { ProbeAddressError, probeIdleClose } from '../probe/probe.js';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { positiveInt } from './parse-number.js';
import { socketHost } from '../util/ports.js';

interface ProbeFlags {
  url: string;
  samples: string;
  maxWait: string;
  concurrency: string;
  json?: boolean;
}

export function probeCommand(): Command {
  return new Command('probe')
    .description('measure when an HTTP/1.1 server really closes idle keep-alive connections')
    .requiredOption('--url <url>', 'address to probe, e.g. http://127.0.0.1:3000/')
    .option('--samples <n>', 'connections to time', '40')
    .option('--concurrency <n>', 'connections open at once', '20')
    .option('--max-wait <duration>', 'give up on a connection still open after this long', '2m')
    .option('--json', 'print the result as JSON')
    .action(async (flags: ProbeFlags) => {
      let url: URL;
      try {
        url = new URL(flags.url);
      } catch {
        throw new UsageError(`--url: "${flags.url}" is not a URL (e.g. http://127.0.0.1:3000/)`);
      }
      if (url.protocol !== 'http:') throw new UsageError(`--url: only http:// is supported, got ${url.protocol}`);
      const samples = positiveInt(flags.samples, '--samples');
      const concurrency = positiveInt(flags.concurrency, '--concurrency');
      let maxWaitMs: number;
      try {
        maxWaitMs = parseDuration(flags.maxWait);
      } catch (error) {
        throw new UsageError(`--max-wait: ${(error as Error).message}`);
      }
      if (!(maxWaitMs > 0)) throw new UsageError(`--max-wait: "${flags.maxWait}" must be above 0 (how long a connection may stay idle before the probe gives up on it)`);
      const endpoint = { host: socketHost(url), port: Number(url.port || 80) };
      const result = await probeIdleClose(endpoint, { samples, concurrency, maxWaitMs, path: `${url.pathname}${url.search}` })
        .catch((error: Error) => {
          // A wrong address is bad input (exit 2); an address that never closed, a run-time result.
          if (error instanceof ProbeAddressError) throw new UsageError(`--url ${flags.url}: ${error.message}: give the address of an HTTP/1.1 server that is running`);
          throw new UsageError(/closed no idle/.test(error.message) ? error.message : `probe of ${flags.url} failed: ${error.message}`, 1);
        });
      const { closeTimesMs: _raw, ...summary } = result;
      if (flags.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      } else {
        process.stdout.write(`${flags.url} closes idle keep-alive connections after ${summary.medianCloseMs} ms (median of ${summary.samples}; ` +
          `p5 ${summary.p5CloseMs}, p95 ${summary.p95CloseMs}); closed by ${Object.entries(summary.closedBy).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
          `Keep-Alive header: ${summary.advertisedKeepAlive ?? 'none'}\n`);
      }
    });
}
