// Arrivals of a Poisson process: independent requests at a mean rate, the way traffic from many
// unrelated clients arrives. The gaps between arrivals are exponential.

/** A seeded source of inter-arrival gaps (ms) at `ratePerSecond`. */
export function poissonGaps(ratePerSecond: number, random: () => number): () => number {
  if (!(ratePerSecond > 0)) throw new Error('the arrival rate must be above 0');
  // 1 - random() is in (0, 1]: log never sees 0.
  return () => (-Math.log(1 - random()) * 1000) / ratePerSecond;
}
