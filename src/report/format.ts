// Small formatting helpers shared by the terminal table and report.md.
import { formatDuration } from '../util/duration.js';

export function percent(rate: number, digits = 2): string {
  return `${(rate * 100).toFixed(digits)}%`;
}

export function interval([low, high]: readonly [number, number]): string {
  return `[${percent(low)}, ${percent(high)}]`;
}

export function span(range: readonly [number, number] | null): string {
  return range ? `[${range[0]}, ${range[1]})` : '-';
}

export { formatDuration };

/** A Markdown table; it reads as well in a terminal as in a rendered page. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}
