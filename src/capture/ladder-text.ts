// A trial's packets as text: one line per packet (bare ACKs left out), on the timeline's clock
// (ms from when the previous answer left the upstream), the sender and receiver as columns.
import type { TrialRecord } from '../history/records.js';
import type { TrialPackets } from './trial-packets.js';

export function formatLadder(found: TrialPackets, trial: TrialRecord, source: string, clockErrorMs: number): string {
  const origin = trial.sentAt - trial.gapMs;
  const stamp = (ms: number) => {
    const value = Math.round((ms - origin) * 1000) / 1000;
    return `${value >= 0 ? '+' : ''}${value.toFixed(3)}`;
  };
  const names = found.connections.map((connection) => (connection.upstreamConn !== undefined ? `conn ${connection.upstreamConn}` : connection.fromAddress.slice(connection.fromAddress.lastIndexOf(':') + 1)));
  const stampWidth = Math.max(...found.rows.map((row) => stamp(row.atMs).length), 1);
  const nameWidth = Math.max(...names.map((name) => name.length));
  const lines = [`packets (${source}; on the history's clock to ±${clockErrorMs.toFixed(3)} ms, ms from the previous answer; bare ACKs left out):`];
  for (const row of found.rows) {
    const arrow = `${row.sender} -> ${row.receiver}`;
    lines.push(`  ${stamp(row.atMs).padStart(stampWidth)} ms  ${arrow.padEnd(24)} ${names[row.connection]!.padEnd(nameWidth)}  ${row.what}`);
  }
  lines.push('  connections:');
  found.connections.forEach((connection, i) => {
    lines.push(`    ${names[i]!.padEnd(nameWidth)}  ${connection.from} ${connection.fromAddress} -> ${connection.to} ${connection.toAddress}`);
  });
  for (const finding of found.findings) lines.push(`  ${finding}`);
  return lines.join('\n');
}
