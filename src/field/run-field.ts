// Field mode: is the keep-alive race behind the 502s of a stack that is already deployed?
// Synchronized groups of requests to one URL, each an aimed idle gap after the previous one,
// through a load balancer pool the harness does not control; the failures per gap make the
// curve, and a place where they concentrate is confirmed by aiming there again (field-search.ts).
// Polite by construction: only the URL given, a request and time budget, a rate cap, a
// User-Agent naming the tool, and a stop at the first signs of overload.
// This module is the orchestration: the plan (field-plan.ts), the target and its preflight
// (field-target.ts), one group (fire-group.ts), the search (field-search.ts), the verdict
// (field-verdict.ts) and the reports (field-report.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { HistorySink } from '../history/history-file.js';
import { HISTORY_FILE } from '../report/write-outputs.js';
import { isShuttingDown, onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { assertNewRunDir } from '../util/out-dir.js';
import { PreciseScheduler } from '../workload/precise-scheduler.js';
import { openFieldHistory, type FieldHistoryRecord } from './field-history.js';
import { parseIdle, planField, type FieldPlan } from './field-plan.js';
import { writeFieldOutputs } from './field-report.js';
import { GapSearch, isGatewayFailure, summarizeGroup } from './field-search.js';
import { fieldTarget, preflight, type FieldTarget } from './field-target.js';
import { fieldVerdict, type FieldResult, type VerdictInput } from './field-verdict.js';
import { fireGroup, type FieldTrial, type GroupAim } from './fire-group.js';

export const FIELD_DEFAULTS = { method: 'GET', group: 16, rate: 50, maxRequests: 3000, maxSeconds: 600, seed: 1, responseTimeoutMs: 10_000 } as const;

export interface FieldOptions {
  url: string;
  idle: string;
  method: string;
  headers: string[];
  body?: string;
  /** A file of extra CA certificates (PEM). */
  caFile?: string;
  group: number;
  rate: number;
  maxRequests: number;
  maxSeconds: number;
  seed: number;
  responseTimeoutMs?: number;
  /** The run directory; null: none. */
  out: string | null;
  onProgress?: (line: string) => void;
}

/** Everything checked without sending a byte: the target, the plan, the run directory. */
export function prepareField(options: FieldOptions): { target: FieldTarget; plan: FieldPlan } {
  const ca = options.caFile ? readCaFile(options.caFile) : undefined;
  const target = fieldTarget({ url: options.url, method: options.method, headers: options.headers, ...(options.body !== undefined ? { body: options.body } : {}), ...(ca ? { ca } : {}) });
  const budget = { group: options.group, rate: options.rate, maxRequests: options.maxRequests, maxSeconds: options.maxSeconds };
  const plan = planField({ idle: parseIdle(options.idle, budget), ...budget });
  if (options.out) assertNewRunDir(options.out, HISTORY_FILE);
  return { target, plan };
}

/** Several 503 or 429 answers in a row, or any Retry-After: the service is asking for less. */
const OVERLOAD_IN_A_ROW = 3;
/** Failures that are not the race beyond this share (and 5) after this many requests stop the run: something else is failing. */
const DISTURBED_SHARE = 0.1;
const DISTURBED_AFTER = 50;
/** Groups in a row with no successful answer that stop the run (each only primes the next). */
const UNANSWERED_GROUPS = 3;
/** Gaps this far apart are different places: gateway failures in most of them are not one close's race. */
const SPREAD_BUCKET_MS = 40;
const PROGRESS_EVERY_MS = 15_000;
/** How far past its budget a run may go: the last group's answers get this long at least. */
const BUDGET_GRACE_MS = 1_000;

export async function runField(options: FieldOptions): Promise<FieldResult> {
  const { target, plan } = prepareField(options);
  // The budget's clock starts before the first byte: the preflight is part of the run's time.
  const startedMs = Date.now();
  await preflight(target, options.responseTimeoutMs ?? FIELD_DEFAULTS.responseTimeoutMs, startedMs + plan.maxSeconds * 1000);
  const out = options.out;
  const history = out ? openFieldHistory(out) : null;
  // Ctrl-C: the history is closed and the reports written from what was measured.
  const onInterrupt = onCleanup(async () => {
    await history?.close().catch(() => {});
    if (out && isShuttingDown() && fs.existsSync(path.join(out, HISTORY_FILE))) await writeFieldOutputs(out);
  });
  try {
    history?.append({ type: 'field-run', startedAt: new Date().toISOString(), target: { url: target.url, method: target.method, headerNames: target.headerNames, bodyBytes: target.bodyBytes },
      plan, seed: options.seed, node: process.version });
    const result = await fire(options, target, plan, history, startedMs);
    history?.append({ type: 'field-verdict', result });
    await history?.close();
    if (out) await writeFieldOutputs(out);
    return result;
  } finally {
    await onInterrupt();
  }
}

async function fire(options: FieldOptions, target: FieldTarget, plan: FieldPlan, history: HistorySink<FieldHistoryRecord> | null, started: number): Promise<FieldResult> {
  const say = options.onProgress ?? (() => {});
  const deadline = started + plan.maxSeconds * 1000;
  const responseTimeoutMs = options.responseTimeoutMs ?? FIELD_DEFAULTS.responseTimeoutMs;
  const search = new GapSearch(plan, options.seed);
  const scheduler = new PreciseScheduler(2);
  const trials: FieldTrial[] = [];
  let afterNs: bigint | null = null;
  let group = 0;
  let stop: VerdictInput['stop'] = null;
  let unanswered = 0;
  const overload = new OverloadWatch();
  let lastProgress = started;
  let lastGroupAt: number | null = null;
  say(`${plan.bins.length} gap bins from ${plan.idleText}, groups of ${plan.groupSize}; at most ${plan.maxRequests} requests and ${plan.maxSeconds} s`);
  while (!stop && !search.confirmed && trials.length + plan.groupSize <= plan.maxRequests) {
    // Without an answer that returned its connection to the pool, the pool's ages are unknown: prime it first.
    const next = afterNs === null ? { gapMs: 0, phase: 'prime' as const } : search.next();
    // A prime has no gap to wait: after a group with no answer it would follow at once, past
    // the rate cap (150 requests/s against --rate 50 once). It waits out the group's share.
    const primeWaitMs = next.phase === 'prime' && lastGroupAt !== null ? Math.max(0, lastGroupAt + (plan.groupSize / plan.rate) * 1000 - Date.now()) : 0;
    if (Date.now() + primeWaitMs + next.gapMs > deadline) break;
    if (primeWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, primeWaitMs));
    lastGroupAt = Date.now() + next.gapMs;
    const aim: GroupAim = { afterNs, gapMs: next.gapMs };
    // Connects and answers wait no longer than the budget has left (and a grace to answer in).
    const budgetLeftMs = deadline - Date.now() - next.gapMs + BUDGET_GRACE_MS;
    const timeoutMs = Math.max(BUDGET_GRACE_MS, Math.min(responseTimeoutMs, budgetLeftMs));
    const outcome = await fireGroup({ target, size: plan.groupSize, group: ++group, phase: next.phase, aim, scheduler, responseTimeoutMs: timeoutMs });
    if (isShuttingDown()) {
      stop = { outcome: 'interrupted', reason: 'interrupted (Ctrl-C): the requests of the last group are not counted' };
      break;
    }
    const waiting = outcome.trials.filter((trial) => trial.errorClass === 'timeout').length;
    if (timeoutMs < responseTimeoutMs && waiting > 0) {
      // Cut short by the budget, not timed out by the service's measure: not counted. A group
      // none of whose requests was answered says the service stopped answering.
      const cut = `the time budget ended while ${waiting} requests of group ${group} waited for an answer: that group is not counted`;
      say(cut);
      if (waiting === outcome.trials.length) stop = { outcome: 'disturbed', reason: `stopped: ${cut}, and none of its ${waiting} requests was answered: the service stopped answering` };
      break;
    }
    trials.push(...outcome.trials);
    for (const trial of outcome.trials) history?.append({ type: 'field-trial', ...trial });
    afterNs = outcome.earliestOkNs;
    unanswered = afterNs === null ? unanswered + 1 : 0;
    stop = overload.after(outcome.trials) ?? disturbedStop(trials) ?? (unanswered >= UNANSWERED_GROUPS
      ? { outcome: 'disturbed', reason: `stopped: no request of the last ${UNANSWERED_GROUPS} groups succeeded: the service is failing; field mode cannot see the race through it` } : null);
    const summary = summarizeGroup(outcome.trials);
    const before = search.testing();
    search.record(summary);
    if (summary.gatewayFailures > 0) say(`group ${group} (${next.phase}, ${(summary.gapMs / 1000).toFixed(3)} s idle): ${summary.gatewayFailures} of ${summary.trials} failed at the gateway`);
    const opened = before ? null : search.testing();
    if (opened) say(`aiming at ${(opened.centreMs / 1000).toFixed(3)} s to confirm it, with as many groups far from it`);
    const tested = before ?? null;
    if (tested && tested.status !== 'testing') say(`${(tested.centreMs / 1000).toFixed(3)} s ${tested.status}: ${tested.failingFocusGroups} of ${tested.focusGroups} aimed groups failed, ${tested.failingFarGroups} of ${tested.farGroups} far ones (p = ${tested.pValue?.toPrecision(2)})`);
    if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = Date.now();
      say(`${trials.length} of ${plan.maxRequests} requests, ${Math.round((lastProgress - started) / 1000)} s of ${plan.maxSeconds} s, ${trials.filter(isGatewayFailure).length} gateway failures`);
    }
  }
  return fieldVerdict({ plan, url: target.url, method: target.method, trials, groups: group, seconds: (Date.now() - started) / 1000, candidates: search.candidates, stop });
}

/** Signs of overload, group by group: any Retry-After, or OVERLOAD_IN_A_ROW 503/429 answers in a row across groups. */
class OverloadWatch {
  private streak: number[] = [];

  after(group: readonly FieldTrial[]): VerdictInput['stop'] {
    const asked = group.find((trial) => trial.retryAfter !== undefined);
    if (asked) return { outcome: 'stopped', reason: `stopped at once: the service answered ${asked.status} with Retry-After: ${asked.retryAfter} (request ${asked.id}); it asks for less traffic` };
    for (const trial of [...group].sort((a, b) => a.endedAtMs - b.endedAtMs)) {
      this.streak = trial.status === 503 || trial.status === 429 ? [...this.streak, trial.status] : [];
      if (this.streak.length >= OVERLOAD_IN_A_ROW) {
        return { outcome: 'stopped', reason: `stopped at once: ${OVERLOAD_IN_A_ROW} answers in a row were ${[...new Set(this.streak)].join(' or ')} (overloaded or rate-limited)` };
      }
    }
    return null;
  }
}

function disturbedStop(trials: readonly FieldTrial[]): VerdictInput['stop'] {
  const swept = trials.filter((trial) => trial.phase !== 'focus' && trial.phase !== 'prime');
  if (swept.length < DISTURBED_AFTER) return null;
  const other = swept.filter((trial) => trial.errorClass !== 'ok' && !isGatewayFailure(trial)).length;
  const gateway = swept.filter(isGatewayFailure).length;
  const limit = Math.max(5, DISTURBED_SHARE * swept.length);
  if (other > limit) return { outcome: 'disturbed', reason: `stopped: ${other} of ${swept.length} requests failed for other reasons (not a 502 or a closed connection): the service is failing; field mode cannot see the race through it` };
  // The race fails at one idle age: gateway failures over most of the gaps swept are something else.
  const spanOf = (of: readonly FieldTrial[]) => new Set(of.map((trial) => Math.floor((trial.gapMs ?? trial.intendedGapMs) / SPREAD_BUCKET_MS))).size;
  const failingSpan = spanOf(swept.filter(isGatewayFailure));
  if (gateway > limit && failingSpan >= Math.max(3, spanOf(swept) / 2)) return { outcome: 'disturbed', reason: `stopped: ${gateway} of ${swept.length} requests failed at the gateway at gaps all over the range, not at one idle age: something other than the race fails` };
  return null;
}

/** Cap on a --ca file: a bundle of every public CA is about 200 KB. */
const CA_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The certificates of a --ca file: a regular file (a FIFO once hung the run) holding at least
 * one PEM certificate that parses (a file of none was silently trusted as nothing).
 */
function readCaFile(file: string): string {
  let text: string;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new UsageError(`--ca ${file}: not a regular file: give a PEM file of CA certificates`);
    if (stat.size > CA_FILE_BYTES) throw new UsageError(`--ca ${file}: ${Math.round(stat.size / 1024)} KB is not a file of CA certificates: give a PEM file`);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--ca ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new UsageError(`--ca ${file}: no PEM certificate in it (-----BEGIN CERTIFICATE-----): give the CA's certificate in PEM`);
  for (const [index, block] of blocks.entries()) {
    try {
      new crypto.X509Certificate(block);
    } catch {
      throw new UsageError(`--ca ${file}: certificate ${index + 1} of ${blocks.length} does not parse: give the CA's certificate in PEM`);
    }
  }
  return text;
}
