// What a prepared HAProxy config listens on besides its binds (which the preparation moved to
// 127.0.0.1): a `peers` section's `peer` line for this host listens on its address, for the
// other peers to connect to. HAProxy has no dump of its config; its sections are read here as
// HAProxy reads them (a section runs from its keyword to the next).
import { stripComment } from '../config-comment.js';
import { staysOnHost } from '../listen-address.js';
import { sectionsOf } from './user-conf.js';

/** The listening lines of the prepared config that reach past this host, in words (`sourceLines` maps to the user's lines). */
export function offLoopbackHaproxyListens(text: string, sourcePath: string, sourceLines: readonly (number | null)[]): string[] {
  const lines = text.split('\n');
  const found: string[] = [];
  for (const section of sectionsOf(lines)) {
    for (let i = section.start + 1; i <= section.end; i++) {
      const words = stripComment(lines[i]!).trim().split(/\s+/);
      // peer NAME ADDRESS:PORT; bind lines (any section) the preparation already moved.
      const address = section.kind === 'peers' && words[0] === 'peer' ? words[2] : words[0] === 'bind' ? words[1] : undefined;
      if (address === undefined) continue;
      for (const one of address.split(',')) {
        const bare = one.replace(/^(ipv4|ipv6|tcp|tcp4|tcp6|udp|udp4|udp6)@/, '');
        if (!staysOnHost(bare)) found.push(`${words[0]} ${one} at ${sourcePath}:${sourceLines[i] ?? i + 1}`);
      }
    }
  }
  return found;
}
