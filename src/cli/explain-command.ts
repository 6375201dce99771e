// `keepalive-lab explain DIR --trial ID`: one trial's timeline, from the run's history alone.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { trialTimeline, formatTimeline } from '../explain/trial-timeline.js';
import { readHistoryFile } from '../history/history-file.js';
import type { HistoryRecord, TrialRecord } from '../history/records.js';
import { formatLadder } from '../capture/ladder-text.js';
import { writePcap } from '../capture/pcap-format.js';
import { runCaptures } from '../capture/run-capture.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { UsageError } from '../util/errors.js';
import { noteTornLine } from './torn-line.js';
import { analyzeHistory } from '../analysis/analyze-history.js';
import { loadSentence, widthSentences } from '../report/window-text.js';
import { forTerminal } from '../util/terminal-text.js';

export function explainCommand(): Command {
  return new Command('explain')
    .description('print a trial\'s timeline: the upstream\'s answer and close, the request, the proxy\'s log, the client\'s status')
    .argument('<dir>', 'run directory')
    .option('--trial <id>', 'trial id (default: the first failed trial)')
    .option('--pcap <file>', 'write the trial\'s packets (its upstream connections\' whole lives, and the client\'s packets of the trial) as a pcap file for Wireshark; needs a run made with --capture')
    .action((dir: string, flags: { trial?: string; pcap?: string }) => {
      const file = path.join(dir, HISTORY_FILE);
      if (!fs.existsSync(file)) throw new UsageError(`${dir} has no ${HISTORY_FILE}: give the --out directory of a sweep or a gate`);
      const history = readHistoryFile(file, noteTornLine(file));
      const id = flags.trial ?? history.find((r): r is TrialRecord => r.type === 'trial' && r.errorClass !== 'ok')?.id;
      if (!id) throw new UsageError(`${dir}: no failed trial to explain; name one with --trial ID`);
      const timeline = trialTimeline(history, id);
      if (!timeline) throw new UsageError(`--trial: no trial "${id}" in ${file} (ids look like ${history.find((r) => r.type === 'trial')?.['id' as never] ?? 'c0-1'})`);
      process.stdout.write(`${forTerminal(formatTimeline(timeline))}\n`);
      explainPackets(dir, history, timeline.trial, flags.pcap);
      // A sweep's trial is one of many: the window its cell measured puts it in its place.
      if (timeline.cell?.stratumMs !== undefined) {
        const cell = analyzeHistory(history).cells.find((candidate) => candidate.id === timeline.trial.cell);
        for (const sentence of cell ? [...widthSentences(cell), loadSentence(cell)] : []) if (sentence) process.stdout.write(`${sentence}\n`);
      }
    });
}

/** The trial's packets, when the run captured them (--capture); --pcap writes them out. */
function explainPackets(dir: string, history: HistoryRecord[], trial: TrialRecord, pcapFile: string | undefined): void {
  const captures = runCaptures(dir, history);
  if (!captures.captured && pcapFile === undefined) return;
  const wire = captures.find(trial);
  if (!wire.found || !wire.capture) {
    if (pcapFile !== undefined) throw new UsageError(`--pcap: ${wire.missing}`);
    process.stdout.write(`packets: ${wire.missing}\n`);
    return;
  }
  const source = `${wire.capture.files.map((file) => path.relative(dir, file)).join(', ')} on ${wire.capture.record.iface}`;
  process.stdout.write(`${forTerminal(formatLadder(wire.found, trial, source, wire.capture.clockErrorMs))}\n`);
  if (pcapFile === undefined) return;
  fs.writeFileSync(pcapFile, writePcap(wire.capture, wire.found.packets.map((packet) => packet.raw)));
  process.stdout.write(`wrote ${wire.found.packets.length} packets to ${pcapFile}\n`);
}
