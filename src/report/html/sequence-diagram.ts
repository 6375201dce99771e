// A failed trial's packets as a sequence diagram, the picture post-mortems draw by hand: the
// client, the proxy (the fault layer) and the upstream as columns, time downwards, one arrow a
// packet. Each arrow slopes down by the same amount, so a FIN and a request sent in opposite
// directions a moment apart are drawn crossing, as they crossed on the wire. Rows are in the
// packets' order, evenly spaced (a 100 ms idle gap and a 10 µs crossing in one picture); the
// time of each is written beside it. Inline SVG from data: every text is escaped.
import type { TrialRecord } from '../../history/records.js';
import type { Party, TrialPackets } from '../../capture/trial-packets.js';
import { escapeHtml } from './html-parts.js';

const COLUMN_ORDER: Party[] = ['client', 'proxy', 'tap', 'fault layer', 'upstream'];
const ROW = 34;
const SLOPE = 18;
const LEFT = 110;
const COLUMN_GAP = 230;
const TOP = 40;

function colour(what: string): string {
  if (/RST|FIN|HTTP\/1\.[01] 5\d\d/.test(what)) return '#b3261e';
  if (/^[A-Z]+ \S+ HTTP/.test(what)) return '#1f5fa8';
  return '#555';
}

export function sequenceDiagram(found: TrialPackets, trial: TrialRecord): string {
  const parties = COLUMN_ORDER.filter((party) => found.rows.some((row) => row.sender === party || row.receiver === party));
  const x = (party: Party) => LEFT + parties.indexOf(party) * COLUMN_GAP;
  const width = LEFT + (parties.length - 1) * COLUMN_GAP + 140;
  // A pause of 5 ms or more (the idle gap) gets a band of its own, with its length.
  const PAUSE_MS = 5;
  const PAUSE_ROW = 22;
  const ys: number[] = [];
  let y = TOP;
  const pauses: string[] = [];
  found.rows.forEach((row, i) => {
    const pause = i > 0 ? row.atMs - found.rows[i - 1]!.atMs : 0;
    if (pause >= PAUSE_MS) {
      pauses.push(`<text x="${LEFT + ((parties.length - 1) * COLUMN_GAP) / 2}" y="${y + 8}" font-size="11" text-anchor="middle" fill="#777">… ${pause.toFixed(3)} ms with no packet …</text>`);
      y += PAUSE_ROW;
    }
    ys.push(y);
    y += ROW;
  });
  const height = y + SLOPE + 10;
  const origin = trial.sentAt - trial.gapMs;
  const heads = parties.map((party) => `<text x="${x(party)}" y="20" text-anchor="middle" font-weight="bold">${escapeHtml(party)}</text>`
    + `<line x1="${x(party)}" y1="28" x2="${x(party)}" y2="${height - 8}" stroke="#999" stroke-dasharray="4 3"/>`).join('');
  const arrows = found.rows.map((row, i) => {
    const y = ys[i]!;
    const [x1, x2] = [x(row.sender), x(row.receiver)];
    const stroke = colour(row.what);
    const label = row.what.length > 46 ? `${row.what.slice(0, 45)}…` : row.what;
    const at = row.atMs - origin;
    const tip = x2 > x1 ? -8 : 8;
    return `<g><text x="4" y="${y + 4}" font-size="11" fill="#333">${at >= 0 ? '+' : ''}${at.toFixed(3)} ms</text>`
      + `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y + SLOPE}" stroke="${stroke}" stroke-width="1.6"/>`
      + `<polygon points="${x2},${y + SLOPE} ${x2 + tip},${y + SLOPE - 5} ${x2 + tip},${y + SLOPE + 3}" fill="${stroke}"/>`
      + `<text x="${(x1 + x2) / 2}" y="${y + SLOPE / 2 - 8}" font-size="11" text-anchor="middle" fill="${stroke}">${escapeHtml(label)}</text></g>`;
  }).join('\n');
  const title = `Packets of trial ${trial.id}: times in ms from when the previous answer left the upstream`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="sequence" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}" font-family="sans-serif" font-size="12">
<title>${escapeHtml(title)}</title>${heads}
${pauses.join('')}
${arrows}
</svg>`;
}
