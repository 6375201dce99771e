// Comma lists on the command line; offsets also accept ranges like -3ms..3ms@0.5ms.
import { parseDuration } from '../util/duration.js';

export function splitList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** Expands "FROM..TO@STEP" into its points (ms); other items stay as they are for the schema. */
export function expandOffsets(text: string): (string | number)[] {
  return splitList(text).flatMap((item): (string | number)[] => {
    const range = /^(.+?)\.\.(.+?)@(.+)$/.exec(item);
    if (!range) return [item];
    const [from, to, step] = [parseDuration(range[1]!), parseDuration(range[2]!), parseDuration(range[3]!)];
    if (!(step > 0) || to < from) throw new Error(`offset range "${item}" needs FROM <= TO and a positive STEP`);
    const count = Math.floor((to - from) / step + 1e-9) + 1;
    if (count > 10_000) throw new Error(`offset range "${item}" has ${count} points; use a larger step`);
    return Array.from({ length: count }, (_, i) => Math.round((from + i * step) * 1e6) / 1e6);
  });
}
