// The Node setting that fixes the race from the upstream's side, as the sweep's and the gate's
// advice both state it.

/**
 * The smallest Node keepAliveTimeout that outlasts a proxy timeout by a whole second, in whole
 * seconds: a second above the proxy's limit leaves room for the stock close's timer granularity
 * and for network delay (Node's own close then comes another second later, its
 * keepAliveTimeoutBuffer).
 */
export function nodeKeepAliveFor(proxyTimeoutMs: number): number {
  return Math.ceil((proxyTimeoutMs + 1000) / 1000) * 1000;
}
