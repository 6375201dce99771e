// What a run's captures cost and kept, in a sentence for the reports: packets, the kernel's
// drops, tcpdump's CPU, and the ring's bound.
import type { CaptureEndRecord, CaptureRecord, HistoryRecord } from '../history/records.js';

export function captureSentence(history: readonly HistoryRecord[]): string | null {
  const captures = history.filter((r): r is CaptureRecord => r.type === 'capture');
  if (captures.length === 0) return null;
  const ends = history.filter((r): r is CaptureEndRecord => r.type === 'capture-end');
  const sum = (pick: (end: CaptureEndRecord) => number | null | undefined) => ends.reduce((total, end) => total + (pick(end) ?? 0), 0);
  const seconds = sum((end) => end.seconds);
  const cpu = ends.every((end) => typeof end.cpuMs === 'number') && seconds > 0 ? `, tcpdump used ${(sum((end) => end.cpuMs) / 10 / seconds).toFixed(1)}% of a core` : '';
  const ring = captures[0]!.ring;
  const stopped = ends.length < captures.length ? ` (${captures.length - ends.length} stopped by an interruption, uncounted)` : '';
  return `Packets captured with tcpdump on ${[...new Set(captures.map((c) => c.iface))].join(', ')} for ${captures.length} topolog${captures.length === 1 ? 'y' : 'ies'}${stopped}: `
    + `${sum((end) => end.captured)} packets in ${seconds.toFixed(1)} s, ${sum((end) => end.dropped)} dropped by the kernel${cpu}; `
    + `each ring keeps the newest ${ring.files} x ${ring.fileBytes / 1e6} MB (in capture/). `
    // Measured, not assumed away: docs/benchmarks.md#capture.
    + 'In keepalive-lab\'s own benchmark, W with and without capture lay within each other\'s intervals, with capture 1.0 to 1.5 times as wide (docs/benchmarks.md, "Capture").';
}
