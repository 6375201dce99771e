// bandwidth: data passes at `rate` KB/s (1 KB = 1000 bytes here, as Toxiproxy's
// len(data) * ms / rate).
import { msToNs, orderedDelayStage, type ToxicDefinition } from './toxic.js';

export const bandwidth: ToxicDefinition<{ rate: number }> = {
  type: 'bandwidth',
  defaults: { rate: 0 },
  stage: (attributes, next, link) => orderedDelayStage(next, link, (chunk, previousDueNs) => {
    if (attributes.rate <= 0) return chunk.at;
    const start = previousDueNs > process.hrtime.bigint() ? previousDueNs : process.hrtime.bigint();
    return start + msToNs(chunk.data.length / attributes.rate);
  }),
};
