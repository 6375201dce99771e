// @ts-check
// One line of Ryuk's protocol as a Docker filter, or why it is refused. The stand-in prunes
// everything a filter matches, so a line it cannot read must never become a filter: an empty
// filter matches every container, network and volume on the engine. Only label filters with a
// key and a value are taken (what Testcontainers sends: label=org.testcontainers.session-id=ID).

/**
 * "label=a=b&label=c=d" -> { filter: { label: ["a=b", "c=d"] } }; anything else -> { error }.
 * @param {string} line
 * @returns {{ filter: Record<string, string[]> } | { error: string }}
 */
export function parseFilterLine(line) {
  /** @type {Record<string, string[]>} */
  const filter = {};
  for (const part of line.split('&')) {
    const equals = part.indexOf('=');
    if (equals <= 0) return { error: `"${part}" is not key=value` };
    let key;
    let value;
    try {
      key = decodeURIComponent(part.slice(0, equals));
      value = decodeURIComponent(part.slice(equals + 1));
    } catch {
      return { error: `"${part}" is not URL-encoded` };
    }
    if (key !== 'label') return { error: `only label filters are taken, got "${key}"` };
    const labelEquals = value.indexOf('=');
    if (labelEquals <= 0 || labelEquals === value.length - 1) return { error: `label filter "${value}" needs a key and a value (key=value)` };
    (filter[key] ??= []).push(value);
  }
  return { filter };
}
