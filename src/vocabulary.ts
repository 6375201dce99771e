// The words every stage shares: what a cell is made of, how a trial ended, where something
// listens. Plain data only, so that any stage can name them without loading another stage (the
// config parser does not load an HTTP client; the history does not load the scenario). It
// imports nothing of ours but the faults, which are part of a cell's identity.
import type { Fault } from './faults/fault.js';

/** Where something listens. */
export interface Endpoint {
  host: string;
  port: number;
}

/** The request methods a sweep fires (a GET is retried by every proxy, a POST by few). */
export const METHODS = ['GET', 'POST'] as const;
export type Method = (typeof METHODS)[number];

/**
 * How the upstream closes idle connections: `exact` at its keep-alive timeout to the
 * millisecond (the harness's timer), `stock` as Node's own timer does (late by up to ~1 s).
 */
export const CLOSE_MODES = ['exact', 'stock'] as const;
export type CloseMode = (typeof CLOSE_MODES)[number];

/** How the upstream's close reaches the wire: a FIN, or a reset (SO_LINGER 0). */
export const CLOSE_STYLES = ['fin', 'rst'] as const;
export type CloseStyle = (typeof CLOSE_STYLES)[number];

/**
 * A proxy flavour's name (`nginx`, `haproxy`, ...; `none` for no proxy). The flavours are
 * plugins: src/proxy/registry.ts lists them, and only src/proxy/ knows what each name means.
 */
export type ProxyName = string;

/** A retry policy by name; each flavour lists its own (src/proxy/<flavour>/), the config checks it. */
export type RetryPolicy = string;

/** The clients a lane can send with when no proxy stands between it and the upstream. */
export const CLIENT_KINDS = ['raw', 'node-agent', 'node-agent-timeout', 'undici'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** Which idle close a trial is aimed at: the upstream's, or the proxy's own. */
export type BoundaryKind = 'upstream' | 'proxy';

/** How a trial ended, as the client saw it. */
export type ErrorClass = 'ok' | '502' | 'other-5xx' | 'other-status' | 'eof' | 'reset' | 'timeout' | 'error';

/** A cell: one thing measured, a timeout pairing with its close mode, method and retry policy. */
export interface CellSpec {
  id: string;
  proxyTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamClose: CloseMode;
  closeStyle: CloseStyle;
  method: Method;
  retry: RetryPolicy;
  /** Toxics between the proxy and the upstream; part of the cell's identity. */
  faults: Fault[];
  /** Whether the cell's requests pass a Toxiproxy (with or without faults). */
  path: 'direct' | 'toxiproxy';
  /** The upstream's Node version as requested (`--upstream-node`); unset: the runtime's own. */
  upstreamNode?: string;
  /** With no proxy: the client that talks to the upstream (part of the identity). */
  client?: ClientKind;
}

/** The clock anchors' way across a captured interface (capture/clock-anchors.ts): from this
 *  host's address on a container network's bridge to a container's address on it. */
export interface AnchorPath {
  from: string;
  to: string;
}
