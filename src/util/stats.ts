// The one place that computes intervals and quantiles.

/** Two-sided standard normal quantile for a confidence level (0.95 -> 1.96). */
export function zForConfidence(confidence: number): number {
  // Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
  const p = 1 - (1 - confidence) / 2;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * Wilson score interval for a binomial proportion. Unlike the normal approximation it stays
 * inside [0, 1] and gives a non-zero upper bound for zero failures, which is what a
 * "safe" claim is asserted against.
 */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): [number, number] {
  if (trials === 0) return [0, 1];
  const z = zForConfidence(confidence);
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  // At 0 or n the bound is exactly 0 or 1; the subtraction would leave float dust (1e-18).
  return [successes === 0 ? 0 : Math.max(0, centre - half), successes === trials ? 1 : Math.min(1, centre + half)];
}

/** Quantile by linear interpolation over a sorted copy; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/** Smallest number of trials with zero failures whose upper bound falls below `rate`. */
export function trialsToBoundZeroFailures(rate: number, confidence = 0.95): number {
  let n = 1;
  while (wilsonInterval(0, n, confidence)[1] >= rate) n = Math.ceil(n * 1.05) + 1;
  let low = Math.floor(n / 1.05) - 1;
  while (low < n - 1) {
    const mid = Math.floor((low + n) / 2);
    if (wilsonInterval(0, mid, confidence)[1] < rate) n = mid; else low = mid;
  }
  return n;
}

/** Below this a probability is treated as nothing: binomial tails are cut where they end. */
export const NEGLIGIBLE = 1e-16;

/** P(X = k) for X ~ Binomial(n, p), for k from 0 until the tail is negligible. */
export function binomialPmf(n: number, p: number): Float64Array {
  if (p <= 0 || n === 0) return Float64Array.of(1);
  if (p >= 1) {
    const certain = new Float64Array(n + 1);
    certain[n] = 1;
    return certain;
  }
  const values: number[] = [];
  // In logs: (1 - p)^n underflows for large n.
  let log = n * Math.log1p(-p);
  const ratio = Math.log(p) - Math.log1p(-p);
  let total = 0;
  for (let k = 0; k <= n; k++) {
    const value = Math.exp(log);
    values.push(value);
    total += value;
    if (k > n * p && (value < NEGLIGIBLE || 1 - total < NEGLIGIBLE)) break;
    log += Math.log(n - k) - Math.log(k + 1) + ratio;
  }
  return Float64Array.from(values);
}

/** P(X <= k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  const pmf = binomialPmf(n, p);
  let total = 0;
  for (let i = 0; i <= Math.min(k, pmf.length - 1); i++) total += pmf[i]!;
  return Math.min(1, total);
}

/**
 * Exact one-sided bounds (Clopper-Pearson) on a failure rate from `failures` of `trials`, each
 * at error `alpha`: the rate is below `upper` (and above `lower`) but with probability alpha.
 * Found by bisection on the binomial distribution.
 */
export function exactBounds(failures: number, trials: number, alpha: number): [number, number] {
  if (trials === 0) return [0, 1];
  const bisect = (tooLow: (p: number) => boolean) => {
    let low = 0;
    let high = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (low + high) / 2;
      if (tooLow(mid)) low = mid; else high = mid;
    }
    return (low + high) / 2;
  };
  // Upper: the rate at which seeing this few failures has probability alpha.
  const upper = failures >= trials ? 1 : bisect((p) => binomialCdf(failures, trials, p) > alpha);
  // Lower: the rate at which seeing this many failures has probability alpha.
  const lower = failures === 0 ? 0 : bisect((p) => 1 - binomialCdf(failures - 1, trials, p) < alpha);
  return [lower, upper];
}

/** ln(n!) by summing logs: exact enough for the counts here (groups of a run, thousands at most). */
function logFactorial(n: number): number {
  let total = 0;
  for (let i = 2; i <= n; i++) total += Math.log(i);
  return total;
}

/**
 * One-sided Fisher exact test: the probability of `hitsA` or more hits in sample A when the
 * hits of both samples fall at random among them (sizes `sizeA`, `sizeB`; hits `hitsA`, `hitsB`).
 * Small says sample A holds more hits than chance puts there.
 */
export function fisherGreater(hitsA: number, sizeA: number, hitsB: number, sizeB: number): number {
  const total = sizeA + sizeB;
  const hits = hitsA + hitsB;
  const logChoose = (n: number, k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);
  const denominator = logChoose(total, hits);
  let p = 0;
  for (let k = hitsA; k <= Math.min(hits, sizeA); k++) {
    if (hits - k > sizeB) continue;
    p += Math.exp(logChoose(sizeA, k) + logChoose(sizeB, hits - k) - denominator);
  }
  return Math.min(1, p);
}

/**
 * Over-dispersion of block estimates around their pooled value: Pearson's chi-square over its
 * degrees of freedom (blocks - 1), at least 1. Above 1, the blocks differ by more than their
 * counts explain (drift of the machine between blocks), and an interval from the counts alone
 * is too narrow by its square root. Blocks without variance (nothing failed) tell nothing.
 */
export function overdispersion(blocks: readonly { estimate: number; variance: number }[], pooled: number): number {
  const informative = blocks.filter((block) => block.variance > 0);
  if (informative.length < 2) return 1;
  const chiSquare = informative.reduce((sum, block) => sum + (block.estimate - pooled) ** 2 / block.variance, 0);
  return Math.max(1, chiSquare / (informative.length - 1));
}

// Student's t at 0.975 for 1-10 degrees of freedom (any table); beyond, 1.96 + 2.4/df is within
// 0.5% of it up to 100 and tends to the normal's.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/**
 * The 95% interval of the geometric mean of ratios measured once per run: a t-interval on their
 * logarithms. Each ratio pairs two measurements made side by side, so drift of the machine
 * between runs cancels in it, and the interval covers what varies from run to run, not only the
 * counts of one run.
 */
export function geometricMeanInterval(ratios: readonly number[]): { mean: number; ci95: [number, number] } | null {
  const logs = ratios.filter((ratio) => ratio > 0 && Number.isFinite(ratio)).map(Math.log);
  if (logs.length < 2) return null;
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const sd = Math.sqrt(logs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (logs.length - 1));
  const df = logs.length - 1;
  const half = (df <= T975.length ? T975[df - 1]! : 1.96 + 2.4 / df) * sd / Math.sqrt(logs.length);
  return { mean: Math.exp(mean), ci95: [Math.exp(mean - half), Math.exp(mean + half)] };
}

/**
 * P(X >= x) for a chi-square variable with `df` degrees of freedom: the regularized upper
 * incomplete gamma Q(df/2, x/2), by its series below a+1 and its continued fraction above
 * (Numerical Recipes' gammq, to 1e-12).
 */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(x > 0)) return 1;
  const a = df / 2;
  const z = x / 2;
  const logPrefix = -z + a * Math.log(z) - logGamma(a);
  if (z < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-14; n++) sum += (term *= z / (a + n));
    return Math.max(0, 1 - sum * Math.exp(logPrefix));
  }
  // Lentz's method for the continued fraction of Q.
  const tiny = 1e-300;
  let b = z + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return Math.min(1, Math.exp(logPrefix) * h);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 digits). */
function logGamma(x: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let sum = g[0]!;
  for (let i = 1; i < 9; i++) sum += g[i]! / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}
