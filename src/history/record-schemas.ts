// What each record of a stored history must hold before anything reads it: the fields the
// analysis and the reports use, with their types. A history in a directory someone handed over
// may hold `{"type":"run"}` and nothing else; the reports once failed on it with a TypeError's
// text. Extra fields pass (older and newer records carry more). Nested results (a gate's or a
// field run's verdict) are checked at their top level; report-command.ts turns whatever deeper
// still does not hold into one line.
import { z } from 'zod';

const num = z.number().finite();
const text = z.string();
const stringMap = z.record(z.string(), z.string());
const errorClass = z.string();
const open = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);

const run = open({ startedAt: text, monotonicAtStart: num, runtime: text, proxy: text.optional(), versions: stringMap, settings: z.record(z.string(), z.unknown()) });
const resume = open({ startedAt: text, monotonicAtStart: num, versions: stringMap });
const versions = open({ group: text, versions: stringMap });
const probe = open({ samples: num, medianCloseMs: num, p5CloseMs: num, p95CloseMs: num, closedBy: z.record(z.string(), num), advertisedKeepAlive: text.nullable() });
const cell = open({
  id: text, proxyTimeoutMs: num, upstreamTimeoutMs: num, upstreamClose: text, closeStyle: text, method: text, retry: text, faults: z.array(z.unknown()), path: text,
  trialPrefix: text, effectiveCloseMs: num, probe, boundaries: z.array(open({ kind: text, atMs: num })), lanes: num,
});
const trial = open({
  cell: text, id: text, lane: num, method: text, boundary: text, intendedOffsetMs: num, gapMs: num, gapOffsetMs: num, gapClock: z.enum(['upstream', 'client']),
  receiptGapMs: num, status: num.nullable(), errorClass, latencyMs: num, sentAt: num, endedAt: num, block: num.optional(),
});
const proxyLog = open({ at: num, level: text, reason: text, trial: text.nullable(), message: text });
const upstream = open({ t: num, ev: z.enum(['open', 'request', 'response', 'close']), conn: num, trial: text.optional() });
const cellEnd = open({ cell: text, completed: z.boolean(), seconds: num });
const block = open({ block: num, cells: z.array(text), seconds: num, trials: num, offTarget: num });
const capture = open({ group: text, file: text, iface: text, listeners: z.array(open({ role: z.enum(['proxy', 'tap', 'fault layer', 'upstream']), host: text, port: num })), anchorPort: num,
  ring: open({ files: num, fileBytes: num }), snaplen: num });
const captureEnd = open({ group: text, captured: num.nullable(), dropped: num.nullable() });
const shardLoad = open({ seconds: num, blocks: num, machineBusyShare: num.nullable(), machineStealShare: num.nullable(), maxStealShare: num.nullable() });
const merge = open({ mergedAt: text, harness: text, matrixHash: text, count: num, missing: z.array(num),
  shards: z.array(open({ shard: open({ index: num, count: num }), from: text, harness: text, runtime: text, cells: z.array(text), completed: z.boolean(), versions: stringMap, load: shardLoad })) });
const soakRequest = open({ cell: text, id: text, status: num.nullable(), errorClass, latencyMs: num, sentAt: num, endedAt: num });

const fieldPlan = open({ bins: z.array(open({ fromMs: num, toMs: num })), idleText: text, leftOut: z.array(text), groupSize: num, rate: num, maxRequests: num, maxSeconds: num,
  passRequests: num, passSeconds: num, groupsPerWindow: num, groupsInBudget: num, chanceToMeet: num });
const fieldRun = open({ startedAt: text, target: open({ url: text, method: text, headerNames: z.array(text), bodyBytes: num }), plan: fieldPlan, seed: num, node: text });
const fieldTrial = open({ id: text, group: num, phase: text, intendedGapMs: num, gapMs: num.nullable(), status: num.nullable(), errorClass, latencyMs: num, sentAtMs: num, endedAtMs: num });
const fieldVerdict = open({ result: open({ outcome: text, reason: text, url: text, method: text, requests: num, groups: num, seconds: num, candidates: z.array(z.unknown()),
  curve: z.array(z.unknown()), closeUp: z.array(z.unknown()), limits: z.array(text), overall: open({ trials: num, failures: num }) }) });

const gateProxy = open({ flavour: text, label: text, version: text, upstreamBlock: text, keepaliveTimeoutMs: num, copies: num });
const gateUpstream = open({ label: text, closesIdle: z.boolean() });
const decisive = open({ boundary: text, atMs: num.nullable(), gapsMs: z.array(num) });
const gateSetup = open({ proxy: gateProxy, upstream: gateUpstream, decisive, faults: z.array(text), maxFailureRate: num, confidence: num, trialsNeededToPass: num });
const gateVerdict = open({ result: open({ outcome: text, reason: text, proxy: gateProxy, upstream: gateUpstream, decisive, faults: z.array(text), trials: num, failures: num,
  errorClasses: z.record(z.string(), num) }) });

/** The schema of each record type a history may hold; a type not listed is kept unchecked (and unread). */
export const RECORD_SCHEMAS: Record<string, z.ZodTypeAny> = {
  run, resume, versions, cell, trial, 'proxy-log': proxyLog, upstream, 'cell-end': cellEnd, block, 'soak-request': soakRequest, capture, 'capture-end': captureEnd, merge,
  'field-run': fieldRun, 'field-trial': fieldTrial, 'field-verdict': fieldVerdict, 'gate-setup': gateSetup, 'gate-verdict': gateVerdict,
};

/** What a record lacks, in words (its first problem), or null when it holds what its type needs. */
export function recordProblem(record: { type: string }): string | null {
  const schema = RECORD_SCHEMAS[record.type];
  if (!schema) return null;
  const checked = schema.safeParse(record);
  if (checked.success) return null;
  const issue = checked.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : 'the record';
  return `a "${record.type}" record whose ${field} is ${issue.code === 'invalid_type' && /received undefined|Required/i.test(issue.message) ? 'missing' : `wrong (${issue.message})`}`;
}
