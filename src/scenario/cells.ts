// A cell is one thing measured: a timeout pairing with its close mode, method and retry policy.
// Cells that differ only in method share one started topology.
import type { CloseMode, Method, RetryPolicy, SweepConfig } from './sweep-config.js';

export type BoundaryKind = 'upstream' | 'proxy';

export interface CellSpec {
  id: string;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CloseMode;
  closeStyle: 'fin' | 'rst';
  method: Method;
  retry: RetryPolicy;
}

/** Cells that can be measured on one topology (same proxy and upstream settings). */
export interface TopologyGroup {
  key: string;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CloseMode;
  closeStyle: 'fin' | 'rst';
  retry: RetryPolicy;
  cells: CellSpec[];
}

export function cellId(cell: Omit<CellSpec, 'id'>): string {
  return `P${cell.proxyTimeoutMs}-K${cell.upstreamTimeoutMs}-${cell.upstreamClose}` +
    `${cell.closeStyle === 'rst' ? '-rst' : ''}-${cell.method}-${cell.retry}`;
}

export function expandTopologyGroups(config: SweepConfig): TopologyGroup[] {
  const groups: TopologyGroup[] = [];
  for (const proxyTimeoutMs of config.proxyTimeout) {
    for (const upstreamTimeoutMs of config.upstreamTimeout) {
      for (const upstreamClose of config.upstreamClose) {
        for (const retry of config.retry) {
          const shared = { proxyTimeoutMs, upstreamTimeoutMs, upstreamClose, closeStyle: config.closeStyle, retry };
          const cells = config.methods.map((method) => ({ id: cellId({ ...shared, method }), ...shared, method }));
          groups.push({ key: `P${proxyTimeoutMs}-K${upstreamTimeoutMs}-${upstreamClose}-${retry}`, ...shared, cells });
        }
      }
    }
  }
  return groups;
}

/**
 * Which idle boundaries a cell is fired at. `auto` aims at the close that comes first: the
 * upstream's effective close, and also the proxy's own close when it comes earlier (then the
 * upstream boundary is measured too, to show that nothing races there).
 */
export function boundariesFor(choice: SweepConfig['boundaries'], proxyTimeoutMs: number, effectiveCloseMs: number): BoundaryKind[] {
  if (choice === 'upstream') return ['upstream'];
  if (choice === 'proxy') return ['proxy'];
  if (choice === 'both') return ['upstream', 'proxy'];
  return proxyTimeoutMs < effectiveCloseMs ? ['proxy', 'upstream'] : ['upstream'];
}
