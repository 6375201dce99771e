// A merge of shards in words and tables: which machine measured what, which shards are
// missing, and whether the machines agree on the reference cell. Shared by report.md and
// report.html.
import type { ShardAgreement } from '../analysis/shard-agreement.js';
import type { MergeRecord } from '../history/records.js';
import { interval, percent } from './format.js';
import { PROXY_NAMES } from '../proxy/registry.js';

type MergedShard = MergeRecord['shards'][number];

/** "host-a (2 cores)": the machine that measured a shard ('?' where it was not recorded). */
function machineLabel(merge: MergeRecord | null, shard: number): string {
  const machine = merge?.shards.find((candidate) => candidate.shard.index === shard)?.machine;
  return machine ? `${machine.host} (${machine.cores} cores)` : '?';
}

/** "2/4 · host-a (2 cores)": the shard and its machine, for a cell's row. */
export function shardLabel(merge: MergeRecord | null, shard: number | undefined): string {
  return shard === undefined ? '-' : `${shard}/${merge?.count ?? '?'} · ${machineLabel(merge, shard)}`;
}

export const SHARD_HEADER = ['shard', 'from', 'runtime', 'machine', 'kernel', 'node', 'proxy', 'cells', 'complete', 'firing s', 'machine busy', 'CPU stolen (max)'];

export function shardRows(merge: MergeRecord): (string | number)[][] {
  return merge.shards.map((shard) => [
    `${shard.shard.index}/${shard.shard.count}`,
    shard.from,
    shard.runtime,
    shard.machine ? `${shard.machine.host}: ${shard.machine.cores} cores, ${shard.machine.cpu}` : '?',
    shard.machine?.kernel ?? '?',
    shard.machine?.node ?? shard.versions.node ?? '?',
    proxyVersions(shard),
    shard.cells.length,
    shard.completed ? 'yes' : 'no',
    shard.load.seconds,
    shard.load.machineBusyShare === null ? '-' : percent(shard.load.machineBusyShare, 0),
    shard.load.machineStealShare === null ? '-' : `${percent(shard.load.machineStealShare, 1)} (${percent(shard.load.maxStealShare ?? 0, 0)})`,
  ]);
}

/** The proxies' and the fault layer's versions (the registry names the proxies). */
function proxyVersions(shard: MergedShard): string {
  const components = new Set<string>([...PROXY_NAMES, 'toxiproxy']);
  return Object.entries(shard.versions).filter(([name]) => components.has(name)).map(([name, version]) => `${name} ${version}`).join(', ') || '-';
}

/** What the merge holds: all shards, or which are missing (a partial merge says so first). */
export function mergeSentence(merge: MergeRecord): string {
  const incomplete = merge.shards.filter((shard) => !shard.completed).map((shard) => shard.shard.index);
  const parts = [`Merged from ${merge.shards.length} of ${merge.count} shards (matrix ${merge.matrixHash}, keepalive-lab ${merge.harness}); each cell was measured by one shard, on one machine, and its figures are its own.`];
  if (merge.missing.length > 0) parts.unshift(`PARTIAL: shard${merge.missing.length > 1 ? 's' : ''} ${merge.missing.map((index) => `${index}/${merge.count}`).join(', ')} ${merge.missing.length > 1 ? 'are' : 'is'} missing, and ${merge.missing.length > 1 ? 'their' : 'its'} cells with ${merge.missing.length > 1 ? 'them' : 'it'}.`);
  if (incomplete.length > 0) parts.push(`Shard${incomplete.length > 1 ? 's' : ''} ${incomplete.join(', ')} stopped before every cell completed.`);
  return parts.join(' ');
}

export const AGREEMENT_HEADER = ['shard', 'machine', 'trials', 'failures', 'rate/aimed [95% CI]', 'W ms [95% CI]', 'stands out'];

export function agreementRows(agreement: ShardAgreement, merge: MergeRecord | null): (string | number)[][] {
  return agreement.readings.map((reading) => [
    reading.shard,
    machineLabel(merge, reading.shard),
    reading.trials,
    reading.failures,
    `${percent(reading.trials === 0 ? 0 : reading.failures / reading.trials)} ${interval(reading.failureRateCi95)}`,
    reading.widthMs === null ? '-' : `${reading.widthMs.toFixed(3)} ${reading.widthMsCi95 ? `[${reading.widthMsCi95[0].toFixed(3)}, ${reading.widthMsCi95[1].toFixed(3)}]` : ''}${reading.disturbed ? ' (disturbed)' : ''}`,
    reading.flagged ? 'yes' : '',
  ]);
}

/** Whether the shards' machines measured the reference cell alike, in a sentence. */
export function agreementSentence(agreement: ShardAgreement): string {
  const tests = [
    agreement.width ? `W: Cochran's Q ${agreement.width.q.toFixed(2)} on ${agreement.width.df} df, p = ${agreement.width.pValue.toFixed(3)}, pooled W ${agreement.width.pooledMs.toFixed(3)} [${agreement.width.pooledMsCi95[0].toFixed(3)}, ${agreement.width.pooledMsCi95[1].toFixed(3)}] ms` : null,
    agreement.rate ? `failure rates: chi-square ${agreement.rate.chiSquare.toFixed(2)} on ${agreement.rate.df} df (counts shrunk by each shard's block dispersion), p = ${agreement.rate.pValue.toFixed(3)}` : null,
  ].filter((test): test is string => test !== null);
  const flagged = agreement.readings.filter((reading) => reading.flagged).map((reading) => reading.shard);
  if (agreement.readings.length < 2) return `Reference cell ${agreement.cell}: measured by one shard only, so there is no other machine to compare it with.`;
  const head = `Reference cell ${agreement.cell}, measured by ${agreement.readings.length} shards on the same schedule:`;
  if (agreement.agree === null) return `${head} too few failures to compare the machines (${tests.join('; ') || 'no W varies'}).`;
  // Agreement is between the shards: a load they all shared (side by side on one machine)
  // moves every copy alike and is not seen here; the pooled W against a run alone shows it.
  if (agreement.agree) return `${head} the shards agree (${tests.join('; ')}): their cells can be read side by side; a shift every shard shared is not seen here (compare the pooled W with a run of the cell alone).`;
  return `${head} the shards DISAGREE beyond chance (${tests.join('; ')})${flagged.length > 0 ? `; shard${flagged.length > 1 ? 's' : ''} ${flagged.join(', ')} stand${flagged.length > 1 ? '' : 's'} out` : ''}: a difference between cells of different shards may be the machines' (or, on one machine, the moments'), not the pairings'.`;
}
