// Every toxic the embedded server knows, by its wire name.
import { bandwidth } from './bandwidth.js';
import { latency } from './latency.js';
import { limitData } from './limit-data.js';
import { resetPeer } from './reset-peer.js';
import { slicer } from './slicer.js';
import { slowClose } from './slow-close.js';
import { timeout } from './timeout.js';
import type { ToxicDefinition } from './toxic.js';

export const TOXICS: Record<string, ToxicDefinition<Record<string, number>>> = Object.fromEntries(
  [latency, bandwidth, slowClose, timeout, resetPeer, slicer, limitData].map((toxic) => [toxic.type, toxic as unknown as ToxicDefinition<Record<string, number>>]));
