// nginx reads its config as tokens, so one directive may span lines (`listen` on one line,
// `0.0.0.0:80;` on the next; a log_format of quoted pieces, one a line). The gate's rewrites
// read a line at a time, so a directive continued over lines is first joined onto its first
// line, and the lines it took become empty: the line count (and nginx's "in FILE:LINE") stays.
import { stripComment } from '../config-comment.js';

/** Joins every directive continued past its line onto that line (in place); the lines it took are left empty. */
export function joinContinuedLines(lines: string[]): string[] {
  for (let i = 0; i < lines.length; i++) {
    let joined = lines[i]!;
    let next = i + 1;
    while (isContinued(stripComment(joined)) && next < lines.length) {
      // Comments go before the join: on one line, a comment would hide what follows it.
      joined = `${stripComment(joined)} ${lines[next]!.trim()}`;
      lines[next] = '';
      next++;
    }
    lines[i] = joined;
    i = next - 1;
  }
  return lines;
}

/** Whether a line (without its comment) ends inside a directive: words after its last `;`, `{` or `}`, or an open quote. */
function isContinued(text: string): boolean {
  let quote: string | null = null;
  let lastEnd = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\') i++;
    else if (quote !== null) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === ';' || char === '{' || char === '}') lastEnd = i;
  }
  return quote !== null || text.slice(lastEnd + 1).trim() !== '';
}
