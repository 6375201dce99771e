// A run's versions: its own, with those its topologies reported as they started (the fault
// layer's server, the upstream's Node), and over a merge every shard's. A component with
// several values lists each once ("1.22.1, 1.26.0").
import type { HistoryRecord } from './records.js';

export function joinVersions(...all: readonly Record<string, string>[]): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const each of all) {
    for (const [name, version] of Object.entries(each)) {
      const seen = versions[name]?.split(', ') ?? [];
      for (const one of version.split(', ')) if (!seen.includes(one)) seen.push(one);
      versions[name] = seen.join(', ');
    }
  }
  return versions;
}

/** The run record's versions with every `versions` record's. */
export function runVersions(records: readonly HistoryRecord[], base: Record<string, string> = {}): Record<string, string> {
  return joinVersions(base, ...records.flatMap((record) => (record.type === 'versions' ? [record.versions] : [])));
}
