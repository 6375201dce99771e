// A cell is one thing measured: a timeout pairing with its close mode, method and retry policy.
// Cells that differ only in method share one started topology.
import { faultsLabel, type Fault } from '../faults/fault.js';
import { CLIENT_KINDS, type BoundaryKind, type CellSpec, type ClientKind, type CloseMode, type CloseStyle, type RetryPolicy } from '../vocabulary.js';
import { proxyFlavour } from '../proxy/registry.js';
import type { SweepConfig } from './sweep-config.js';

/** Cells that can be measured on one topology (same proxy and upstream settings). */
export interface TopologyGroup {
  key: string;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CloseMode;
  closeStyle: CloseStyle;
  retry: RetryPolicy;
  faults: Fault[];
  path: 'direct' | 'toxiproxy';
  upstreamNode?: string;
  cells: CellSpec[];
}

export function cellId(cell: Omit<CellSpec, 'id'>): string {
  return `P${cell.proxyTimeoutMs}-K${cell.upstreamTimeoutMs}-${cell.upstreamClose}` +
    `${cell.closeStyle === 'rst' ? '-rst' : ''}${nodeSuffix(cell.upstreamNode)}-${cell.method}-${cell.retry}${pathSuffix(cell.path, cell.faults)}` +
    `${cell.client === undefined ? '' : `-client-${cell.client}`}`;
}

function nodeSuffix(upstreamNode: string | undefined): string {
  return upstreamNode === undefined ? '' : `-node${upstreamNode}`;
}

function pathSuffix(path: 'direct' | 'toxiproxy', faults: readonly Fault[]): string {
  return path === 'direct' ? '' : `-toxiproxy-${faultsLabel(faults)}`;
}

export function expandTopologyGroups(config: SweepConfig): TopologyGroup[] {
  const groups: TopologyGroup[] = [];
  for (const proxyTimeoutMs of config.proxyTimeout) {
    for (const upstreamTimeoutMs of config.upstreamTimeout) {
      for (const upstreamClose of config.upstreamClose) {
        for (const upstreamNode of config.upstreamNode ?? [undefined]) {
          for (const retry of config.retry) {
            for (const faults of config.faults) {
              const path = faults.length > 0 || config.toxiproxy === 'always' ? 'toxiproxy' as const : 'direct' as const;
              const shared = { proxyTimeoutMs, upstreamTimeoutMs, upstreamClose, closeStyle: config.closeStyle, retry, faults, path, ...(upstreamNode !== undefined ? { upstreamNode } : {}) };
              const clients: (ClientKind | undefined)[] = proxyFlavour(config.proxy).passThrough ? config.clients ?? [...CLIENT_KINDS] : [undefined];
              const cells = config.methods.flatMap((method) => clients.map((client) => {
                const spec = { ...shared, method, ...(client !== undefined ? { client } : {}) };
                return { id: cellId(spec), ...spec };
              }));
              groups.push({ key: `P${proxyTimeoutMs}-K${upstreamTimeoutMs}-${upstreamClose}${nodeSuffix(upstreamNode)}-${retry}${pathSuffix(path, faults)}`, ...shared, cells });
            }
          }
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
