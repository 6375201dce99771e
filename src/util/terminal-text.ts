// Text bound for a terminal that may carry what a server sent (a Location, a Retry-After, a
// proxy's log line, the start of an answer that is not HTTP): control characters in it would
// be obeyed by the terminal (an escape sequence can retitle the window, rewrite what was
// printed, or hide text). They are shown as escapes instead; newlines and tabs stay.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

export function forTerminal(text: string): string {
  return text.replace(CONTROL, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}
