// The flags that come from the proxy flavours (src/proxy/registry.ts): each flavour's binary
// (--nginx-bin, --haproxy-bin, --caddy-bin, ...) and the words of --proxy and --retry, so that a
// new flavour needs no line here.
import type { Command } from 'commander';
import { DEFAULT_PROXY, proxyFlavours } from '../proxy/registry.js';

/** The binary settings with their flags, in the registry's order: nginxBin -> --nginx-bin. */
export const PROXY_BINARY_FLAGS: Record<string, string> = Object.fromEntries(proxyFlavours().flatMap((flavour) => (flavour.binary ? [[flavour.binary.setting, flavour.binary.flag]] : [])));

/** One `--<flavour>-bin <path>` option per flavour with a binary: its setting, the option, its help. */
export function proxyBinaryOptions(): { setting: string; option: string; help: string }[] {
  return proxyFlavours().flatMap(({ binary }) => (binary
    ? [{ setting: binary.setting, option: `${binary.flag} <path>`, help: `${binary.program} binary (default: ${binary.program} on PATH, or ${binary.env})` }] : []));
}

/** Adds the binary options to a command. */
export function addProxyBinaryOptions(command: Command): Command {
  for (const { option, help } of proxyBinaryOptions()) command.option(option, help);
  return command;
}

/** The binaries the flags name, as config settings (commander names them by their setting). */
export function proxyBinariesFrom(flags: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.keys(PROXY_BINARY_FLAGS).flatMap((setting) => (typeof flags[setting] === 'string' ? [[setting, flags[setting] as string]] : [])));
}

/** "nginx, haproxy, caddy, or none (...)": what --proxy takes, and where each runs. */
export function proxyChoicesHelp(): string {
  const names = proxyFlavours().map((flavour) => (flavour.passThrough ? `${flavour.name} (no proxy: the clients straight to the upstream)` : flavour.name));
  const localOnly = proxyFlavours().filter((flavour) => !flavour.container).map((flavour) => flavour.name);
  return `${names.join(', ')}; ${localOnly.join(', ')}: local runtime only (default ${DEFAULT_PROXY})`;
}

/** Each flavour's retry policies and its default pair, for --retry's help. */
export function retryPoliciesHelp(): string {
  return proxyFlavours().filter((flavour) => !flavour.passThrough)
    .map((flavour) => `${flavour.name}: ${flavour.retryPolicies.join(',')} (default ${String(flavour.sweepDefaults.retry)})`).join('; ');
}
