// `keepalive-lab toxiproxy`: the embedded Toxiproxy-compatible server on its own, a drop-in
// where the real one cannot be installed.
import net from 'node:net';
import { Command } from 'commander';
import { isLoopback, startToxiproxyServer } from '../toxiproxy/api-server.js';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';

export function toxiproxyCommand(): Command {
  return new Command('toxiproxy')
    .description('serve the Toxiproxy 2.x HTTP API with an embedded proxy server (until SIGINT/SIGTERM)')
    .option('--port <n>', 'API port', '8474')
    .option('--host <address>', 'API address', '127.0.0.1')
    .option('--spin-ms <ms>', 'timer spin window of the toxics (0: timers only)', '0.5')
    .action(async (flags: { port: string; host: string; spinMs: string }) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: "${flags.port}" is not a port number`);
      const spinMs = Number(flags.spinMs);
      if (!Number.isFinite(spinMs) || spinMs < 0) throw new UsageError(`--spin-ms: "${flags.spinMs}" must be a number >= 0`);
      if (net.isIP(flags.host) === 0 && flags.host !== 'localhost') throw new UsageError(`--host: "${flags.host}" is not an IP address; give one of this machine's addresses, e.g. 127.0.0.1`);
      const server = await startToxiproxyServer({ host: flags.host, port, spinMs }).catch((error: NodeJS.ErrnoException) => {
        const fix = error.code === 'EADDRINUSE' || error.code === 'EACCES' ? 'choose another --port' : error.code === 'EADDRNOTAVAIL' ? `${flags.host} is not an address of this machine; choose another --host` : 'check --host and --port';
        throw new UsageError(`cannot listen on ${flags.host}:${port}: ${error.code ?? error.message}; ${fix}`);
      });
      onCleanup(() => server.close());
      if (!isLoopback(flags.host)) {
        // Allowed (a container must listen on its own interface), but never silently.
        process.stderr.write(`warning: the API listens on ${flags.host}: any host that reaches it can open relays on this machine and cut its connections; use 127.0.0.1 unless only trusted hosts reach it\n`);
      }
      // One JSON line, so a parent process can read the address (port 0 picks a free one).
      process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url, port: server.port })}\n`);
      await new Promise(() => {}); // served until a signal; cleanup.ts closes it
    });
}
