// The embedded fault layer as the local runtime's child process: the server alone. Started
// through the CLI it loaded every command's libraries first (measured here: ready after
// 1.0-1.4 s and 1.3-1.6 s of CPU, more than nginx used in a whole benchmark run); this entry
// loads the server's own modules only. Users start the same server with `keepalive-lab toxiproxy`.
import { parseArgs } from 'node:util';
import { startToxiproxyServer } from './api-server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'spin-ms': { type: 'string', default: '0.5' },
  },
  strict: true,
});
const port = Number(values.port);
const spinMs = Number(values['spin-ms']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isFinite(spinMs) || spinMs < 0) {
  process.stderr.write(`toxiproxy: --port must be a port number and --spin-ms a number >= 0, got ${values.port} and ${values['spin-ms']}\n`);
  process.exit(2);
}
const server = await startToxiproxyServer({ host: values.host, port, spinMs });
// The same ready line as `keepalive-lab toxiproxy`.
process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url, port: server.port })}\n`);
const stop = () => {
  void server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
