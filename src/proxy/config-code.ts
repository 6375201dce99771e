// Directives that make a proxy run code named by its config: nginx loads modules and runs Perl,
// njs and Lua; HAProxy runs Lua, external checks and whole programs, and loads OpenSSL engines.
// They run as soon as the proxy reads the config, in `nginx -t` and `haproxy -c` already (a
// library's constructor, a Lua os.execute). On a user's own config that is their own code; on a
// config from someone else (a CI job gating a pull request) it is code execution on the runner.
// So the gate refuses them unless told --allow-config-code. Caddy runs no code from its config:
// a plugin is compiled in or the config fails to adapt.
import { stripComment } from './config-comment.js';

export interface ConfigFile {
  /** The user's path, for the message. */
  name: string;
  text: string;
}

export interface CodeDirective {
  /** FILE:LINE */
  at: string;
  directive: string;
}

/** nginx: a directive's name at the start of a statement (after `;`, `{`, `}` or the line's start). */
const NGINX_CODE = /^(load_module|perl|perl_\w+|js_\w+|\w+_by_lua(?:_\w+)?|lua_\w+)$/;
/** HAProxy: a line's first keyword(s); `program` opens a section of commands the master runs. */
const HAPROXY_CODE = /^(lua-load|lua-load-per-thread|lua-prepend-path|external-check|option\s+external-check|program|ssl-engine)\b/;

export function nginxCodeDirectives(files: readonly ConfigFile[]): CodeDirective[] {
  return scan(files, (line) => [...line.matchAll(/(?:^|[;{}])\s*([A-Za-z_]\w*)/g)].map((match) => match[1]!).filter((name) => NGINX_CODE.test(name)));
}

export function haproxyCodeDirectives(files: readonly ConfigFile[]): CodeDirective[] {
  return scan(files, (line) => {
    const match = HAPROXY_CODE.exec(line.trim());
    return match ? [match[1]!.replace(/\s+/, ' ')] : [];
  });
}

function scan(files: readonly ConfigFile[], directivesOf: (line: string) => string[]): CodeDirective[] {
  const found: CodeDirective[] = [];
  for (const file of files) {
    file.text.split('\n').forEach((line, index) => {
      for (const directive of directivesOf(stripComment(line))) found.push({ at: `${file.name}:${index + 1}`, directive });
    });
  }
  return found;
}
