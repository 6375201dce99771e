import { fileURLToPath } from 'node:url';
import type { CloseMode, CloseStyle } from '../vocabulary.js';

/** The upstream under test, as both runtimes start it (containers/upstream/upstream-server.mjs). */
export interface UpstreamSpec {
  keepAliveTimeoutMs: number;
  headersTimeoutMs?: number;
  closeMode: CloseMode;
  closeStyle: CloseStyle;
  responseDelayMs?: number;
  bodySize?: number;
  /** The Node version to run it under (a major or a full version); unset: the runtime's own. */
  node?: string;
}

export const UPSTREAM_PROGRAM = fileURLToPath(new URL('../../containers/upstream/upstream-server.mjs', import.meta.url));

/** The program's flags for a spec (port and event target are the runtime's business). */
export function upstreamArgs(spec: UpstreamSpec): string[] {
  const args = [
    '--keep-alive-timeout', String(Math.round(spec.keepAliveTimeoutMs)),
    '--close-mode', spec.closeMode,
    '--close-style', spec.closeStyle,
  ];
  if (spec.headersTimeoutMs !== undefined) args.push('--headers-timeout', String(Math.round(spec.headersTimeoutMs)));
  if (spec.responseDelayMs) args.push('--response-delay', String(Math.round(spec.responseDelayMs)));
  if (spec.bodySize !== undefined) args.push('--body-size', String(spec.bodySize));
  return args;
}
