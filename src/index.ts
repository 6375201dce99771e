/**
 * keepalive-lab measures the keep-alive race between a proxy and its upstream.
 *
 * A *scenario* describes a topology (proxy flavour and its config, the upstream and its
 * keep-alive settings, and *faults*, `faults/`), a workload and the cells to measure
 * (`scenario/`). A *runtime* starts the described topology (`runtime/`: local processes, or
 * containers on a private Docker network through Testcontainers), with a Toxiproxy between proxy and upstream when a cell has faults (a real
 * one, or the embedded Toxiproxy-compatible server in `toxiproxy/`), and returns a started
 * topology with addresses, logs and `stop()`. The *probe* (`probe/`) measures
 * when the upstream really closes idle connections. The *workload* (`workload/`) fires trials
 * that reuse a proxy-to-upstream connection at the boundary plus an offset, and writes every
 * trial to a *history* (`history/`: JSON lines, written as they complete, together with the
 * proxy's error log and the upstream's connection events). *Analysis* (`analysis/`) is pure
 * functions over the history: counts, rates, Wilson intervals, 0.5 ms bins, window edges, log
 * reasons. *Reports* (`report/`) and *vitest matchers* (`matchers/`) read the analysis. The CLI
 * (`cli/`) and the suites are thin layers over that; `sweep()` is the same pipeline as a call.
 */
export { sweep, findCell, gate, soak, field, predict, GATE_DEFAULTS, type SweepOptions, type SweepResult, type GateInput, type SoakResult, type FieldInput } from './api.js';
export type { FieldResult } from './field/field-verdict.js';
export type { SoakAnalysis, SoakCellAnalysis } from './soak/soak-analysis.js';
export type { GateOptions } from './gate/run-gate.js';
export type { GateResult } from './gate/gate-result.js';
export { recommendFix, type Fix } from './gate/gate-decision.js';
export { analyzeHistory, analyzeCell, type CellAnalysis, type RunAnalysis } from './analysis/analyze-history.js';
export { binTrials, windowEdges, poolBins, BIN_MS, type GapBin, type WindowEdges, type PooledRate } from './analysis/bins.js';
export { readHistoryFile, openHistoryFile, memoryHistory, type HistorySink } from './history/history-file.js';
export type * from './history/records.js';
export { probeIdleClose, type ProbeOptions, type ProbeResult } from './probe/probe.js';
export { localRuntime } from './runtime/local-runtime.js';
// Loaded on first use: testcontainers is an optional peer dependency (runtime/load-containers.ts).
export { containersRuntime, dockerEngine, TESTCONTAINERS_INSTALL } from './runtime/load-containers.js';
export { selectRuntime, runtimeChoice, type RuntimeChoice } from './runtime/select-runtime.js';
export { configuredImages, DEFAULT_IMAGES } from './runtime/containers/image-names.js';
export type { Runtime, StartedTopology, TopologySpec } from './runtime/runtime.js';
export type * from './vocabulary.js';
export { parseSweepConfig, sweepConfigSchema, type SweepConfig, type SweepConfigInput } from './scenario/sweep-config.js';
export { proxyFlavour, proxyFlavours, PROXY_NAMES } from './proxy/registry.js';
export type { ProxyFlavour, LaneProxySpec } from './proxy/flavour.js';
export { renderNginxConf, type NginxSpec } from './proxy/nginx/render.js';
export { renderHaproxyConf, type HaproxySpec } from './proxy/haproxy/render.js';
export { parseHaproxyLogLine } from './proxy/haproxy/log.js';
export { parseNginxErrorLine, classifyNginxMessage } from './proxy/nginx/error-log.js';
export { runSweep } from './sweep/run-sweep.js';
export { parseFaultSpec, faultsLabel, type Fault } from './faults/fault.js';
export { startToxiproxyServer, type RunningToxiproxy, type ToxiproxyServerOptions } from './toxiproxy/api-server.js';
export { writeRunOutputs } from './report/write-outputs.js';
export { trialTimeline, formatTimeline, type TrialTimeline, type TimelineEvent } from './explain/trial-timeline.js';
export { summaryJson } from './report/summary.js';
export { wilsonInterval } from './util/stats.js';
export { parseDuration, formatDuration } from './util/duration.js';
export { mergeRuns, type MergeOptions, type MergeOutcome } from './merge/merge-runs.js';
export { shardSlice, parseShard, matrixHash, type ShardSpec } from './scenario/shards.js';
export { shardManifest } from './analysis/shard-manifest.js';
export { shardAgreements, type ShardAgreement, type ShardReading } from './analysis/shard-agreement.js';
export type { PredictOptions, RunPrediction, CellPrediction } from './predict/predict-run.js';
export type { Prediction, FailureCurve, PoolShape, RatePrediction } from './predict/prediction.js';
export { simulatePool, type PoolModelInput, type PoolModelResult, type CurvePiece } from './predict/pool-model.js';
export { parseTraffic, type Traffic } from './scenario/traffic.js';
export type { SoakPrediction } from './soak/soak-analysis.js';
export type { SoakConnections } from './soak/soak-connections.js';
