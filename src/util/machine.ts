// What a measurement ran on, as a run records it: two machines' windows are two measurements,
// and a merge of shards shows which machine measured which cell.
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineDescription {
  host: string;
  cores: number;
  cpu: string;
  kernel: string;
  node: string;
  memoryGiB: number;
}

export function describeMachine(): MachineDescription {
  return {
    host: os.hostname(),
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** This package's version, as `npm ls` shows it (dist/util/ and src/util/ both sit two levels below the package root). */
export const HARNESS_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
