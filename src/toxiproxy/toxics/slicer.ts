// slicer: each chunk is cut into pieces of about `average_size` +- `size_variation` bytes,
// `delay` microseconds apart.
import { orderedDelayStage, type Chunk, type ToxicDefinition } from './toxic.js';

type SlicerAttributes = { average_size: number; size_variation: number; delay: number };

export const slicer: ToxicDefinition<SlicerAttributes> = {
  type: 'slicer',
  defaults: { average_size: 0, size_variation: 0, delay: 0 },
  stage(attributes, next, link) {
    const delayed = orderedDelayStage(next, link, (chunk, previousDueNs) => {
      const start = previousDueNs > chunk.at ? previousDueNs : chunk.at;
      return start + BigInt(Math.round(attributes.delay * 1000));
    });
    return {
      push(chunk) {
        for (const piece of slice(chunk, attributes)) delayed.push(piece);
      },
      end: delayed.end,
      flush: delayed.flush,
    };
  },
};

/** Toxiproxy's recursive halving: pieces vary evenly, with no bias at the start or the end. */
function slice(chunk: Chunk, attributes: SlicerAttributes): Chunk[] {
  const average = Math.max(1, attributes.average_size);
  const variation = Math.max(0, Math.min(attributes.size_variation, average - 1));
  const cuts: number[] = [];
  const split = (start: number, end: number) => {
    if (end - start - average <= variation) {
      cuts.push(end);
      return;
    }
    const mid = start + Math.floor((end - start) / 2) + (variation > 0 ? Math.floor(Math.random() * 2 * variation) - variation : 0);
    split(start, mid);
    split(mid, end);
  };
  split(0, chunk.data.length);
  let from = 0;
  return cuts.map((to) => {
    const piece = { data: chunk.data.subarray(from, to), at: chunk.at };
    from = to;
    return piece;
  });
}
