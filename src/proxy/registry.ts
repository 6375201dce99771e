// The proxy flavours, by name: adding one is a folder under src/proxy/ and a line here.
import { caddyFlavour } from './caddy/flavour.js';
import type { ProxyFlavour } from './flavour.js';
import { haproxyFlavour } from './haproxy/flavour.js';
import { nginxFlavour } from './nginx/flavour.js';
import { noProxy } from './none/flavour.js';

const FLAVOURS: readonly ProxyFlavour[] = [nginxFlavour, haproxyFlavour, caddyFlavour, noProxy];

/** The flavours' names, the default first. */
export const PROXY_NAMES = FLAVOURS.map((flavour) => flavour.name) as [string, ...string[]];
export const DEFAULT_PROXY = nginxFlavour.name;

/** The flavour of a name the config already checked against PROXY_NAMES. */
export function proxyFlavour(name: string = DEFAULT_PROXY): ProxyFlavour {
  const flavour = findProxyFlavour(name);
  if (!flavour) throw new Error(`not a proxy flavour: ${name} (use ${PROXY_NAMES.join(', ')})`);
  return flavour;
}

/**
 * The flavour of a name read from data (a stored history), or undefined for a name this version
 * does not know: reports of such a run still render, in general words.
 */
export function findProxyFlavour(name: string | undefined): ProxyFlavour | undefined {
  return FLAVOURS.find((candidate) => candidate.name === (name ?? DEFAULT_PROXY));
}

/** Every flavour, in the registry's order. */
export function proxyFlavours(): readonly ProxyFlavour[] {
  return FLAVOURS;
}
