// latency: each chunk leaves `latency` +- `jitter` ms after it arrived. An EOF on an idle link
// passes at once (Toxiproxy's latency toxic only delays data).
import { msToNs, orderedDelayStage, type ToxicDefinition } from './toxic.js';

export const latency: ToxicDefinition<{ latency: number; jitter: number }> = {
  type: 'latency',
  defaults: { latency: 0, jitter: 0 },
  stage: (attributes, next, link) => orderedDelayStage(next, link, (chunk) => {
    const jitter = attributes.jitter > 0 ? Math.random() * 2 * attributes.jitter - attributes.jitter : 0;
    return chunk.at + msToNs(Math.max(0, attributes.latency + jitter));
  }),
};
