// What a field run will do, computed before anything is sent: the idle gaps it aims at (bins of
// a range, or the closes of common upstreams' defaults), how many requests go at once, and
// whether the budget covers the gaps at all. Pure: `--dry-run` prints it, the run follows it.
import { UsageError } from '../util/errors.js';
import { formatDuration, parseDuration } from '../util/duration.js';

/** A bin of idle gaps: each group aimed into it takes a gap drawn evenly from [fromMs, toMs). */
export interface IdleBin {
  fromMs: number;
  toMs: number;
  /** What the bin is looking for (auto: the upstream whose default close it covers). */
  label?: string;
}

/**
 * Idle closes of common upstreams' defaults, for `--idle auto` (docs/field.md says where each
 * comes from). Node's is measured here (docs/race.md#nodejs): keepAliveTimeout 5 s plus the 1 s
 * buffer on Node 20 to 26 (its main branch raises the default to 65 s, nodejs/node#62782); the
 * others are their documented defaults (Puma's rose from 20 s to 65 s in 7.0).
 */
export const AUTO_CLOSES: readonly { closeMs: number; who: string }[] = [
  { closeMs: 2000, who: 'gunicorn keepalive 2 s' },
  { closeMs: 5000, who: 'Node.js before the 1 s buffer, uvicorn, Apache httpd: 5 s' },
  { closeMs: 6000, who: 'Node.js 20 to 26: keepAliveTimeout 5 s + 1 s buffer' },
  { closeMs: 20_000, who: 'Tomcat\'s shipped connectionTimeout, Puma before 7.0 (persistent_timeout): 20 s' },
  { closeMs: 30_000, who: 'Jetty idleTimeout: 30 s' },
  { closeMs: 65_000, who: 'Puma 7.0 and later: persistent_timeout 65 s' },
  { closeMs: 66_000, who: 'Node.js with keepAliveTimeout 65 s (the advice behind a 60 s load balancer, and the default of the major after 26), + 1 s buffer' },
];
/** Auto adds the next close only while the budget keeps this chance to meet a race window in its gaps. */
const AUTO_MIN_CHANCE = 0.8;
/** Around each auto close: timers fire late by a few ms, a network shifts the close by its delay. */
const AUTO_BEFORE_MS = 10;
const AUTO_AFTER_MS = 40;
const AUTO_STEP_MS = 10;

/** Gaps shorter than this are not idle connections a load balancer keeps: no upstream closes there. */
const MIN_GAP_MS = 10;
const MAX_BINS = 2000;

export interface IdleRange {
  bins: IdleBin[];
  /** As the user wrote it, or "auto". */
  text: string;
}

/** What auto's choice and the plan's chance depend on. */
export interface Budget {
  group: number;
  rate: number;
  maxRequests: number;
  maxSeconds: number;
}

/**
 * Auto's bins: the common closes in order, each added while the budget keeps the chance to meet
 * a race window in them at AUTO_MIN_CHANCE or more (the first always), and those left out.
 */
export function autoRange(budget: Budget): IdleRange & { leftOut: string[] } {
  const bins: IdleBin[] = [];
  const leftOut: string[] = [];
  for (const { closeMs, who } of AUTO_CLOSES) {
    const more = [...bins, ...binsOf(closeMs - AUTO_BEFORE_MS, closeMs + AUTO_AFTER_MS, AUTO_STEP_MS, who)];
    if (leftOut.length === 0 && (bins.length === 0 || reach(more, budget).chanceToMeet >= AUTO_MIN_CHANCE)) bins.push(...more.slice(bins.length));
    else leftOut.push(who);
  }
  return { bins, text: 'auto', leftOut };
}

/** The group the rate cap allows, and what the budget reaches over these bins. */
function reach(bins: readonly IdleBin[], budget: Budget): { groupSize: number; groupsPerWindow: number; groupsInBudget: number; chanceToMeet: number } {
  const shortestMs = Math.min(...bins.map((bin) => bin.fromMs));
  // A group of B every gap G sends B / G requests a second: the cap bounds B at the shortest gap.
  const groupSize = Math.min(budget.group, Math.floor((budget.rate * shortestMs) / 1000));
  const coveredMs = bins.reduce((sum, bin) => sum + (bin.toMs - bin.fromMs), 0);
  const meanGapS = bins.reduce((sum, bin) => sum + (bin.fromMs + bin.toMs) / 2000, 0) / bins.length;
  const groupsPerWindow = Math.max(1, coveredMs / WINDOW_MS);
  // The first group primes the pool; each later one waits about the mean gap.
  const groupsInBudget = groupSize < 1 ? 0 : Math.max(0, Math.min(Math.floor(budget.maxRequests / groupSize) - 1, Math.floor(budget.maxSeconds / meanGapS)));
  return { groupSize, groupsPerWindow, groupsInBudget, chanceToMeet: chanceToMeet(groupsPerWindow, groupsInBudget) };
}

/** The chance that this many aimed groups meet, at least once, a window that one group in groupsPerWindow meets. */
export function chanceToMeet(groupsPerWindow: number, groups: number): number {
  return 1 - (1 - 1 / groupsPerWindow) ** Math.max(0, groups);
}

/** `--idle 4s..8s@100ms` (bins of 100 ms from 4 s to 8 s) or `--idle auto` (within the time budget: autoRange). */
export function parseIdle(text: string, budget: Budget): IdleRange & { leftOut?: string[] } {
  if (text.trim() === 'auto') return autoRange(budget);
  const match = /^\s*(.+?)\.\.(.+?)@(.+?)\s*$/.exec(text);
  if (!match) throw new UsageError(`--idle "${text}" is not a range of idle gaps: give FROM..TO@STEP (e.g. 4s..8s@100ms) or auto`);
  const [fromMs, toMs, stepMs] = [match[1]!, match[2]!, match[3]!].map((part) => {
    try {
      return parseDuration(part);
    } catch (error) {
      throw new UsageError(`--idle "${text}": ${(error as Error).message}`);
    }
  }) as [number, number, number];
  if (fromMs < MIN_GAP_MS) throw new UsageError(`--idle "${text}" starts below ${MIN_GAP_MS} ms: no load balancer keeps a connection idle that briefly; start the range at the idle time you suspect`);
  if (toMs <= fromMs) throw new UsageError(`--idle "${text}" ends before it starts: give FROM..TO with TO after FROM`);
  if (stepMs <= 0 || stepMs > toMs - fromMs) throw new UsageError(`--idle "${text}": the step must be above 0 and at most the range (${formatDuration(toMs - fromMs)})`);
  if ((toMs - fromMs) / stepMs > MAX_BINS) throw new UsageError(`--idle "${text}" makes more than ${MAX_BINS} bins: take a larger step`);
  return { bins: binsOf(fromMs, toMs, stepMs), text };
}

function binsOf(fromMs: number, toMs: number, stepMs: number, label?: string): IdleBin[] {
  const bins: IdleBin[] = [];
  for (let start = fromMs; start < toMs - 1e-9; start += stepMs) bins.push({ fromMs: start, toMs: Math.min(toMs, start + stepMs), ...(label ? { label } : {}) });
  return bins;
}

export interface PlanInput extends Budget {
  idle: IdleRange & { leftOut?: string[] };
}

export interface FieldPlan {
  bins: IdleBin[];
  idleText: string;
  /** Auto: the common closes the time budget left out. */
  leftOut: string[];
  /** Requests sent at once in every group (the rate cap may make it smaller than asked). */
  groupSize: number;
  rate: number;
  maxRequests: number;
  maxSeconds: number;
  /** One group in every bin: requests and seconds (idle gaps only). */
  passRequests: number;
  passSeconds: number;
  /** One group in this many meets a race window WINDOW_MS wide that lies in the gaps. */
  groupsPerWindow: number;
  /** Groups the budget allows, and the chance that they meet such a window at least once. */
  groupsInBudget: number;
  chanceToMeet: number;
}

/**
 * How much idle gap the race covers for a group, in effect: the sum over 1 ms of gap of the
 * share of groups that met a failure there. Measured (docs/field.md#measured): nginx 60 s in
 * front of stock Node 20 (keepAliveTimeout 100 ms, closing at about 1100 ms), 199 groups of 16
 * POSTs at gaps drawn from 1090-1115 ms: groups failed only at 1098-1103 ms, 25-71% of them per
 * 1 ms, 2.2 ms in all. Over a network the window is wider by the delay between the load
 * balancer and the upstream; 2 ms is what one machine gives, the narrowest case.
 */
export const WINDOW_MS = 2;

export function planField(input: PlanInput): FieldPlan {
  const { idle } = input;
  const reached = reach(idle.bins, input);
  const { groupSize } = reached;
  if (groupSize < 1) throw new UsageError(`--rate ${input.rate} allows no request every ${formatDuration(Math.min(...idle.bins.map((bin) => bin.fromMs)))} (the shortest gap): raise --rate or start --idle later`);
  const passRequests = idle.bins.length * groupSize;
  const passSeconds = idle.bins.reduce((sum, bin) => sum + (bin.fromMs + bin.toMs) / 2, 0) / 1000;
  if (input.maxRequests < passRequests + groupSize) {
    throw new UsageError(`--max-requests ${input.maxRequests} is too small for --idle ${idle.text}: one group at each of its ${idle.bins.length} gaps takes ${passRequests} requests (groups of ${groupSize}) and the first group one more; raise --max-requests to ${passRequests + groupSize} or narrow --idle`);
  }
  if (input.maxSeconds < passSeconds) {
    throw new UsageError(`--max-seconds ${input.maxSeconds} is too small for --idle ${idle.text}: one group at each of its ${idle.bins.length} gaps waits ${Math.ceil(passSeconds)} s; raise --max-seconds or narrow --idle`);
  }
  return { bins: idle.bins, idleText: idle.text, leftOut: idle.leftOut ?? [], groupSize, rate: input.rate, maxRequests: input.maxRequests, maxSeconds: input.maxSeconds,
    passRequests, passSeconds, groupsPerWindow: reached.groupsPerWindow, groupsInBudget: reached.groupsInBudget, chanceToMeet: reached.chanceToMeet };
}

/** The plan in words, for `--dry-run` and the run's first lines. */
export function planText(plan: FieldPlan, target: string): string {
  const groups = plan.groupsInBudget;
  const meanGapS = plan.passSeconds / plan.bins.length;
  const closes = [...new Set(plan.bins.map((bin) => bin.label).filter((label): label is string => label !== undefined))].map((label) => {
    const of = plan.bins.filter((bin) => bin.label === label);
    return `    - ${label} (${of[0]!.fromMs}-${of.at(-1)!.toMs} ms)`;
  });
  return [
    `field plan for ${target}`,
    `  idle gaps: ${plan.idleText}, ${plan.bins.length} bins (each group aims at a gap drawn within its bin)${closes.length > 0 ? ', around the closes of:' : ''}`,
    ...closes,
    ...(plan.leftOut.length > 0 ? [`  left out: the budget would meet a race window in all of them with a chance below 80% (raise --max-seconds and --max-requests to include them): ${plan.leftOut.join('; ')}`] : []),
    `  groups of ${plan.groupSize} requests sent at once on fresh client connections; at most ${plan.rate} requests/s`,
    `  one group in every bin: ${plan.passRequests} requests, about ${Math.ceil(plan.passSeconds)} s`,
    `  budget: at most ${plan.maxRequests} requests and ${plan.maxSeconds} s: up to ${groups} groups after the first (${(groups + 1) * plan.groupSize} requests)`,
    `  a race window about ${WINDOW_MS} ms wide (as nginx in front of Node on one machine shows it; wider across a network) is met by about 1 group in ${Math.round(plan.groupsPerWindow)} (about ${Math.round(plan.groupsPerWindow * meanGapS)} s); once met, groups aim at it to confirm`,
    `  chance that this budget meets such a window, if the upstream closes within these gaps: about ${Math.round(plan.chanceToMeet * 100)}%${plan.chanceToMeet < 0.9 ? ' (narrow --idle, or raise the budget, to make it likelier)' : ''}`,
  ].join('\n');
}
