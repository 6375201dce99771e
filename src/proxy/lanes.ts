// How a lane is addressed through any proxy: its own path, which the proxy routes to the lane's
// own upstream pool (an nginx `upstream` block, an HAProxy `backend`).

/** The request path of a lane; the trial id rides in the query so logs can name the trial. */
export function lanePath(lane: number): string {
  return `/lane/${lane}/`;
}

/** The name of a lane's pool in a rendered proxy config (`lane` may be a proxy expression). */
export function laneUpstreamName(lane: number | string): string {
  return `lane_${lane}`;
}
