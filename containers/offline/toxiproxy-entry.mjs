// Entry point of the offline Toxiproxy image: the project's Toxiproxy-compatible server behind
// the real toxiproxy-server's command line (Go-style flags: -host=ADDR, -port N, --port=N), so
// the containers runtime starts either image the same way. PID 1 in a container: it must end
// on SIGTERM itself (the kernel ignores unhandled signals for PID 1).
// @ts-check
import { EMBEDDED_VERSION, startToxiproxyServer } from '../../dist/toxiproxy/api-server.js';

const settings = { host: 'localhost', port: '8474' };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const match = /^--?([a-z-]+)(?:=(.*))?$/.exec(args[i] ?? '');
  const name = match?.[1];
  if (name !== 'host' && name !== 'port') {
    // -config, -seed and the metrics flags of the real server have no counterpart here.
    process.stderr.write(`toxiproxy-entry: unsupported argument "${args[i]}" (supported: -host, -port)\n`);
    process.exit(2);
  }
  settings[name] = match?.[2] ?? args[++i] ?? '';
}

const server = await startToxiproxyServer({ host: settings.host, port: Number(settings.port) });
// The same message the real server logs, for log-based wait strategies.
process.stdout.write(`${JSON.stringify({ level: 'info', host: settings.host, port: settings.port, version: EMBEDDED_VERSION, message: 'Starting Toxiproxy HTTP server' })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { void server.close().finally(() => process.exit(0)); });
}
