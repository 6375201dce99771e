// Bounds of toxic attributes, shared by the fault specs and the embedded Toxiproxy server. It
// imports nothing: the server runs in the offline Toxiproxy image, which has no node_modules.

/**
 * The largest value of any toxic attribute (ms, KB/s, bytes): Node's timers hold at most
 * 2^31-1 ms (a larger delay fires at once, with a warning), and no fault this harness models
 * needs more than that many bytes or KB/s.
 */
export const MAX_TOXIC_ATTRIBUTE = 2_147_483_647;
