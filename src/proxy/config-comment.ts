// nginx and HAProxy configs share the comment syntax the gate needs to see past: `#` at the
// start of a line or after whitespace, to the end of the line. (Neither config the gate reads
// has a `#` inside the directives it looks for outside quotes.)

/** The line without its `#` comment. */
export function stripComment(line: string): string {
  const hash = line.search(/(^|\s)#/);
  return hash === -1 ? line : line.slice(0, hash);
}
