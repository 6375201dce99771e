// The one place that reads and writes durations: "250ms", "1.5s", "2m", or a bare number of ms.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const DURATION = /^(-?\d+(?:\.\d+)?)\s*(ms|s|m)?$/;

/** Parses a duration into milliseconds; throws a message that names the bad text. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (use e.g. 100ms, 1.5s, 2m)`);
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!;
}

/** Formats milliseconds the way a person writes the setting: 500ms, 1s, 60s, 1.5s. */
export function formatDuration(ms: number): string {
  if (ms >= 1000 && ms % 60_000 === 0 && ms >= 120_000) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
