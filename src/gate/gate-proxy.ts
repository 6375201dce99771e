// The proxy a gate runs, whatever its flavour, behind one interface: prepare the user's config
// (or the flavour's rendered template) for a chain address, check it with the proxy's own
// checker before anything starts, start it with its log parsed into records.
import type { ProxyLogRecord } from '../history/records.js';
import { proxyVersion, resolveProxyBinary } from '../proxy/binary.js';
import type { ProxyFlavour } from '../proxy/flavour.js';
import type { PreparedProxyConf } from '../proxy/gate-flavour.js';
import { guardLoopback, type LoopbackGuard } from '../proxy/listen-guard.js';
import { startLocalProxy } from '../proxy/local-process.js';
import { UsageError } from '../util/errors.js';
import { canConnect } from '../util/ports.js';
import type { RetryPolicy } from '../vocabulary.js';
import { monotonicMs } from '../workload/clock.js';

export interface GateProxySettings {
  /** The user's config file, or unset with proxyTimeoutMs. */
  confPath?: string;
  /** The pool (nginx's upstream block, HAProxy's backend) to point at the chain, for full configs. */
  pool?: string;
  proxyTimeoutMs?: number;
  retry: RetryPolicy;
  binary?: string;
  /** Run a config whose directives load code (proxy/config-code.ts). */
  allowConfigCode: boolean;
}

export interface GateProxy {
  flavour: ProxyFlavour;
  version: string;
  /** The flag that named the config, for messages (--nginx-conf, --haproxy-conf). */
  confFlag: string;
  /** The config for an upstream address; pure. */
  prepare(upstreamAddress: string, listenPort: number, burstSize: number): PreparedProxyConf;
  /** The proxy's own checker, and a busy listen port: one line each, before anything starts. */
  check(conf: PreparedProxyConf): Promise<void>;
  start(conf: PreparedProxyConf, onRecord: (record: ProxyLogRecord) => void): Promise<{ stop(): Promise<void> }>;
}

/** A flavour the gate can run: with its gate part, a binary and a process. */
export type GateReadyFlavour = ProxyFlavour & Required<Pick<ProxyFlavour, 'gate' | 'binary' | 'process'>>;

/**
 * `onOffLoopback`: called if a started proxy is later found listening off loopback (one found so
 * at its start fails the start instead); the caller ends the run.
 */
export function gateProxy(flavour: GateReadyFlavour, settings: GateProxySettings, userConfText: string | null, prefix: string,
  onOffLoopback: (error: UsageError) => void): GateProxy {
  const { gate } = flavour;
  const binary = resolveProxyBinary(flavour, settings.binary);
  const version = proxyVersion(flavour, binary);
  const proxy: GateProxy = {
    flavour,
    version,
    confFlag: gate.confFlag,
    prepare: (upstreamAddress, listenPort, burstSize) => gate.prepare(userConfText ?? gate.template(settings.proxyTimeoutMs!, burstSize, settings.retry), {
      sourcePath: settings.confPath ?? '(rendered)',
      ...(settings.pool ? { pool: settings.pool } : {}),
      upstreamAddress,
      listenPort,
      prefix,
      proxyVersion: version,
    }),
    async check(conf) {
      // Before the checker: `nginx -t` and `haproxy -c` already run what these load.
      const code = settings.confPath && userConfText !== null && !settings.allowConfigCode ? gate.codeDirectives(userConfText, conf, settings.confPath) : [];
      if (code.length > 0) {
        throw new UsageError(`${gate.confFlag} ${code[0]!.at}: "${code[0]!.directive}" makes ${flavour.title} run code from the config (even in ${gate.checker}); ` +
          'the gate refuses it: remove it, or pass --allow-config-code if the config is yours (never for a config you have not read, such as one from a pull request)');
      }
      const complaint = gate.check(binary, prefix, conf, settings.confPath ?? null);
      if (complaint) {
        throw new UsageError(settings.confPath
          ? `${gate.confFlag} ${settings.confPath}: ${gate.checker}: ${complaint}`
          : `the rendered proxy config was refused by ${gate.checker}: ${complaint}`);
      }
      // What it would listen on, as the proxy itself reads the config: off loopback, refused
      // before any socket opens (the guard below reads the kernel's view after the start).
      const off = gate.offLoopbackListens(binary, prefix, conf, settings.confPath ?? null);
      if (off.length > 0) {
        throw new UsageError(`${settings.confPath ? `${gate.confFlag} ${settings.confPath}` : 'the rendered proxy config'}: it would listen off loopback (${off.join('; ')}): ` +
          'the gate runs a proxy reachable from this host only; remove that listener from the config');
      }
      if (conf.listenFromConfig && (await canConnect('127.0.0.1', conf.listenPort, 500))) {
        throw new UsageError(`${gate.confFlag} ${conf.listenAt}: port ${conf.listenPort} is in use: free it, or make the ${gate.listenWord} a {{listen}} placeholder`);
      }
      // Started once, before the run, to read what it listens on: a config that listens off
      // loopback is refused before anything is measured (the guard throws at the start).
      const trial = await proxy.start(conf, () => {}).catch((error: Error) => {
        throw error instanceof UsageError ? error : new UsageError(`${settings.confPath ? `${gate.confFlag} ${settings.confPath}` : 'the rendered proxy config'}: the proxy did not start: ${error.message}`);
      });
      await trial.stop();
    },
    async start(conf, onRecord) {
      const startOnce = () => startLocalProxy(flavour, {
        binary, confText: conf.text, listenPort: conf.listenPort, prefix, ...(conf.configFile ? { configFile: conf.configFile } : {}),
        onLogLine: (line) => {
          const record = flavour.process.parseLogLine(line, monotonicMs());
          if (record) onRecord(record);
        },
      });
      const running = await retryWhilePortBusy(startOnce, conf.listenFromConfig);
      // Whatever the config said, what the proxy listens on must be loopback (listen-guard.ts).
      const what = settings.confPath ? `${flavour.title} on ${gate.confFlag} ${settings.confPath}` : `the rendered ${flavour.title} config`;
      let guard: LoopbackGuard;
      try {
        guard = guardLoopback(running.child.process.pid!, what, (error) => {
          void running.stop();
          onOffLoopback(error);
        });
      } catch (error) {
        await running.stop();
        throw error;
      }
      return {
        stop: async () => {
          guard.stop();
          await running.stop();
        },
      };
    },
  };
  return proxy;
}

/** Attempts at a fixed port another socket holds, 2 s apart. */
const BUSY_PORT_ATTEMPTS = 5;

/**
 * A listen port the user's config fixes may lie in the range the kernel hands out to outgoing
 * connections: one of the run's own (a probe waiting out an idle close) can hold it for a few
 * seconds, and the proxy then fails to bind (4 gates in a row once, a minute later none). Such
 * a start is tried again; a port the harness chose is free by construction.
 */
async function retryWhilePortBusy<T>(start: () => Promise<T>, fixedPort: boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!fixedPort || attempt >= BUSY_PORT_ATTEMPTS || !/Address already in use|address in use/i.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

/** The flavour of a name the gate's input already checked, with what the gate needs of it. */
export function gateFlavour(flavour: ProxyFlavour): GateReadyFlavour {
  if (!flavour.gate || !flavour.binary || !flavour.process) throw new Error(`${flavour.name} is not a proxy the gate runs`);
  return flavour as GateReadyFlavour;
}
