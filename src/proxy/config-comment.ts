// nginx, HAProxy and Caddy configs share the comment syntax the gate needs to see past: `#` at
// the start of a line or after whitespace, to the end of the line, unless it stands inside a
// quoted string (`add_header X " #"; listen 0.0.0.0:80;` is one line of two directives: reading
// the ` #` as a comment once hid that listen from the rewrite).

/** The line without its `#` comment. */
export function stripComment(line: string): string {
  const hash = commentStart(line);
  return hash === -1 ? line : line.slice(0, hash);
}

/** Where the line's comment starts (-1: none): a `#` after whitespace or at the start, outside quotes. */
function commentStart(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\') {
      i++; // an escaped character is never a quote or a comment
    } else if (quote !== null) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return i;
    }
  }
  return -1;
}
