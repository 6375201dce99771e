// What an nginx config listens on, read as nginx reads it: `nginx -T` prints every file of the
// config as nginx loaded it (includes resolved), and each is split into nginx's tokens (quoted
// strings and comments as nginx sees them), so that no line layout or quoting can hide a
// `listen`. A `server` block of `http` with no `listen` listens on *:80 (*:8000 unprivileged).
import { spawnSync } from 'node:child_process';
import { staysOnHost } from '../listen-address.js';

/** One directive: its words, where it is, and how deep in blocks. */
interface Statement {
  words: string[];
  file: string;
  line: number;
  /** The names of the blocks it stands in, outermost first. */
  context: string[];
  /** Whether it opens a block. */
  opens: boolean;
}

/** The listens of the config (and its server blocks without one) that reach past this host, in words; or nginx's complaint. */
export function offLoopbackNginxListens(binary: string, prefix: string, confPath: string): string[] {
  const result = spawnSync(binary, ['-T', '-q', '-p', prefix, '-c', confPath, '-e', 'stderr'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) return [];
  const found: string[] = [];
  for (const { file, text } of dumpedFiles(result.stdout)) found.push(...offLoopbackIn(statementsOf(text, file)));
  return found;
}

/** `nginx -T` prints each file after a "# configuration file PATH:" line. */
function dumpedFiles(dump: string): { file: string; text: string }[] {
  const parts = dump.split(/^# configuration file (.*):$/m);
  const files: { file: string; text: string }[] = [];
  // Each file's text starts after the header line's own newline (so that its line 1 is line 1).
  for (let i = 1; i + 1 < parts.length; i += 2) files.push({ file: parts[i]!, text: parts[i + 1]!.replace(/^\n/, '') });
  return files;
}

export function offLoopbackIn(statements: readonly Statement[]): string[] {
  const found: string[] = [];
  for (const statement of statements) {
    const [name, address] = statement.words;
    if (name === 'listen' && address !== undefined && !staysOnHost(address)) found.push(`listen ${address} at ${statement.file}:${statement.line}`);
  }
  // A server block of http (in this file) with neither a listen nor an include that may hold one.
  statements.forEach((statement, index) => {
    if (!(statement.opens && statement.words[0] === 'server' && statement.context.at(-1) === 'http')) return;
    const depth = statement.context.length + 1;
    const inside: Statement[] = [];
    for (const next of statements.slice(index + 1)) {
      if (next.context.length < depth) break;
      if (next.context.length === depth) inside.push(next);
    }
    if (!inside.some((next) => next.words[0] === 'listen' || next.words[0] === 'include')) found.push(`a server block with no listen (nginx listens on *:80) at ${statement.file}:${statement.line}`);
  });
  return found;
}

/** nginx's tokens, grouped into statements: words up to `;` or `{`; `}` closes a block. */
export function statementsOf(text: string, file: string): Statement[] {
  const statements: Statement[] = [];
  const context: string[] = [];
  let words: string[] = [];
  let wordsLine = 0;
  let line = 1;
  let i = 0;
  const end = (opens: boolean) => {
    if (words.length > 0) statements.push({ words, file, line: wordsLine, context: [...context], opens });
    if (opens) context.push(words[0] ?? '');
    words = [];
  };
  while (i < text.length) {
    const char = text[i]!;
    if (char === '\n') line++;
    if (/\s/.test(char)) { i++; continue; }
    if (char === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (char === ';') { end(false); i++; continue; }
    if (char === '{') { end(true); i++; continue; }
    if (char === '}') { end(false); context.pop(); i++; continue; }
    if (words.length === 0) wordsLine = line;
    let word = '';
    if (char === '"' || char === "'") {
      i++;
      while (i < text.length && text[i] !== char) {
        if (text[i] === '\\' && i + 1 < text.length) word += text[++i];
        else word += text[i];
        if (text[i] === '\n') line++;
        i++;
      }
      i++;
    } else {
      while (i < text.length && !/[\s;{}]/.test(text[i]!)) {
        // A `#` inside a word is part of it; `\` escapes the next character; `${name}` is a
        // variable, its braces part of the word.
        if (text[i] === '\\' && i + 1 < text.length) word += text[++i];
        else if (text[i] === '$' && text[i + 1] === '{') {
          const close = text.indexOf('}', i);
          word += text.slice(i, close < 0 ? text.length : close + 1);
          i = close < 0 ? text.length : close;
        } else word += text[i];
        i++;
      }
    }
    words.push(word);
  }
  return statements;
}
