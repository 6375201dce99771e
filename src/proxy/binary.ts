// A flavour's program: found on PATH (or where a setting names it) and asked for its version up
// front, so that a missing or wrong binary is one line before anything starts.
import { spawnSync } from 'node:child_process';
import { UsageError } from '../util/errors.js';
import { describeOutput, which } from '../util/which.js';
import type { ProxyFlavour } from './flavour.js';

type WithBinary = Pick<ProxyFlavour, 'title'> & { binary: NonNullable<ProxyFlavour['binary']> };

function installHint({ binary }: WithBinary): string {
  return `install it with "sudo apt-get install -y ${binary.install}", or name the binary with ${binary.flag} / ${binary.env}`;
}

/** The binary's path: the one configured, else the flavour's environment variable, else PATH. */
export function resolveProxyBinary(flavour: WithBinary, configured?: string): string {
  const wanted = configured ?? process.env[flavour.binary.env] ?? flavour.binary.program;
  const found = which(wanted);
  if (!found) throw new UsageError(`${flavour.binary.program} binary "${wanted}" not found: ${installHint(flavour)}`);
  return found;
}

/**
 * The version the binary reports ("1.22.1", "2.6.12-1+deb12u4"). A binary that is not this
 * proxy would otherwise fail later, at start, after things ran.
 */
export function proxyVersion(flavour: WithBinary, binary: string): string {
  const result = spawnSync(binary, flavour.binary.versionArgs, { encoding: 'utf8', timeout: 10_000 });
  const version = flavour.binary.versionPattern.exec(`${result.stdout}${result.stderr}`)?.[1];
  if (!version) {
    throw new UsageError(`${binary} is not ${flavour.title}: "${binary} ${flavour.binary.versionArgs.join(' ')}" ${describeOutput(result)}: ` +
      `name ${flavour.title} with ${flavour.binary.flag} / ${flavour.binary.env}`);
  }
  return version;
}
