// A failed trial's packets in report.html (a run made with --capture): the sequence diagram and,
// under it, what the packets show; or why there are none.
import type { TrialWire } from '../../capture/run-capture.js';
import type { TrialRecord } from '../../history/records.js';
import { escapeHtml } from './html-parts.js';
import { sequenceDiagram } from './sequence-diagram.js';

/** Finds a trial's captured packets (capture/run-capture.ts). */
export type PacketFinder = (trial: TrialRecord) => TrialWire;

/** The trial's packets as a sequence diagram, with what they show beneath it. */
export function packetFigure(wire: TrialWire, trial: TrialRecord): string {
  if (!wire.found || !wire.capture) return `<p class="note">Packets: ${escapeHtml(wire.missing ?? '')}.</p>`;
  const findings = wire.found.findings.map((finding) => `<li>${escapeHtml(finding)}</li>`).join('');
  return `<figure class="packets">${sequenceDiagram(wire.found, trial)}
<figcaption>Trial ${escapeHtml(trial.id)} on the wire (captured on ${escapeHtml(wire.capture.record.iface)}, times to ±${wire.capture.clockErrorMs.toFixed(3)} ms):<ul>${findings}</ul></figcaption></figure>`;
}
