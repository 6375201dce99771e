// What the gate says: a verdict line and the evidence for a person, JSON for scripts, and a
// JUnit file for CI systems that collect test reports.
import junitModule, { type Builder } from 'junit-report-builder';
import { findProxyFlavour } from '../proxy/registry.js';
import { describeOther } from './failure-evidence.js';
import type { GateResult } from './gate-result.js';
import { predictionSentence } from '../report/prediction-text.js';
import { parseTraffic, trafficText } from '../scenario/traffic.js';

// The package is CommonJS (module.exports = builder) while its types declare an ES default:
// under NodeNext the default import is the builder at run time, typed as the module.
const junit = junitModule as unknown as Builder;

const pct = (rate: number, digits = 2) => `${(rate * 100).toFixed(digits)}%`;

/** PASS (safe), FAIL (unsafe), FAIL (masked) or FAIL (undecided). */
export function verdictLabel(result: GateResult): string {
  return result.outcome === 'pass' ? 'PASS (safe)' : result.failureKind === 'masked' ? 'FAIL (masked)' : result.outcome === 'fail' ? 'FAIL (unsafe)' : 'FAIL (undecided)';
}

export function gateText(result: GateResult): string {
  const probe = result.upstream.probe;
  const lines = [`gate: ${verdictLabel(result)}: ${result.reason}`];
  lines.push(`  upstream  ${result.upstream.label}: ${probe
    ? `closes idle connections at ${probe.medianCloseMs.toFixed(1)} ms (probe of ${probe.samples}, p5 ${probe.p5CloseMs.toFixed(1)}, p95 ${probe.p95CloseMs.toFixed(1)}; Keep-Alive: ${probe.advertisedKeepAlive ?? 'none'})`
    : 'kept idle connections open for as long as the probe waited'}`);
  const capacity = result.upstream.acceptCapacity;
  if (capacity?.heldUpAt) {
    lines.push(`  bursts    ${capacity.burst} requests: the upstream answered ${capacity.heldUpAt} new connections at once only after ${capacity.heldUpMs === null ? 'a failure' : `${capacity.heldUpMs} ms`} ` +
      '(its accept queue is short: connects waited out SYN retransmits), so bursts stay within what it takes');
  }
  const p = result.proxy;
  // A stored verdict's flavour is data: one this version does not know is named as it was recorded.
  const gate = findProxyFlavour(p.flavour)?.gate;
  lines.push(`  proxy     ${gate ? gate.describe(p) : `${p.label} (${p.flavour} ${p.version}), pool ${p.upstreamBlock}: idle timeout ${p.keepaliveTimeoutMs} ms`}`);
  const measured = p.keepaliveTimeoutMeasured;
  lines.push(measured === null
    ? `  measured  the proxy's idle close was not measured (configured ${p.keepaliveTimeoutMs} ms is above --max-idle-wait, or it reuses no connection)`
    : 'medianMs' in measured
      ? `  measured  the proxy closed idle upstream connections at ${measured.medianMs.toFixed(1)} ms (${measured.samples} connections, p5 ${measured.p5Ms.toFixed(1)}, p95 ${measured.p95Ms.toFixed(1)}; configured ${p.keepaliveTimeoutMs} ms)`
      : `  measured  the proxy closed none of ${measured.connections} idle upstream connections within ${measured.keptOpenMs} ms (configured ${p.keepaliveTimeoutMs} ms)` +
        (gate?.poolOutlivesTimeout?.note ?? ''));
  if (result.faults.length > 0) lines.push(`  faults    ${result.faults.join(', ')} (between the proxy and the upstream)`);
  const d = result.decisive;
  const through = p.copies > 1 ? `, through ${p.copies} copies of the proxy side by side` : '';
  lines.push(`  decisive  ${d.boundary === 'upstream' ? `the upstream's close: bursts at ${d.gapsMs[0]}..${d.gapsMs.at(-1)} ms idle${through}`
    : d.boundary === 'proxy' ? `the proxy's own close: bursts at ${d.gapsMs[0]}..${d.gapsMs.at(-1)} ms idle${through}`
      : d.boundary === 'order' ? 'the measured order of the two closes (not fired)' : 'no upstream keep-alive'}`);
  if (result.trials > 0) {
    const classes = Object.entries(result.errorClasses).map(([name, count]) => `${name} ${count}`).join(', ');
    const reasons = Object.entries(result.proxyLog).map(([name, count]) => `${name} ${count}`).join(', ') || 'none';
    lines.push(`  evidence  ${result.failures} of ${result.trials} failed (${pct(result.failureRate)}, 95% CI [${pct(result.failureRateCi95[0])}, ${pct(result.failureRateCi95[1])}]; ${classes}); ` +
      `proxy log: ${reasons}; limit ${pct(result.maxFailureRate, 3)} at ${pct(result.confidence, 0)} confidence`);
    const seen = result.upstreamConnections;
    if (seen) {
      lines.push(`  tapped    ${seen.reused} of ${result.trials} requests reused an idle upstream connection, ${seen.new} went out on one the proxy opened for them` +
        `${seen.unseen > 0 ? `, ${seen.unseen} never reached the upstream` : ''} (the connection tap between the proxy and the upstream)`);
    }
    if (result.failures > 0) {
      const others = describeOther(result.otherFailures);
      lines.push(`  causes    ${result.raceFailures} by the keep-alive race (these decide)${others ? `; not the race, not counted: ${others}` : ''}`);
    }
    for (const [reason, message] of Object.entries(result.proxyLogSamples)) lines.push(`  log       ${reason}: ${message}`);
    if (result.maskedAttempts > 0) {
      const one = result.maskedAttempts === 1;
      lines.push(`  masked    ${result.maskedAttempts} upstream attempt${one ? '' : 's'} raced and ${one ? 'was' : 'were'} retried by the proxy: the client saw ${result.failures} failures; requests it does not retry (POST, or retry off) fail there`);
    }
  }
  const expected = trafficLine(result);
  if (expected) lines.push(`  traffic   ${expected}`);
  if (result.fix) lines.push(`  fix       ${result.fix.text}`);
  lines.push(`  took      ${result.seconds.toFixed(1)} s`);
  if (result.runDir) lines.push(`  run       ${result.runDir} (trials.jsonl, report.md, report.html; keepalive-lab explain ${result.runDir} for a failed trial)`);
  return lines.join('\n');
}

/** With --traffic: what the measured window means there; on a FAIL, what shipping costs a day. */
export function trafficLine(result: GateResult): string | null {
  const expected = result.atTraffic;
  if (!expected) return null;
  const sentence = predictionSentence(expected, trafficText(parseTraffic(expected.traffic)));
  return result.outcome === 'pass' ? sentence : `if you ship, ${sentence}`;
}

export function gateJson(result: GateResult): string {
  return JSON.stringify(result, null, 2);
}

export function writeGateJunit(result: GateResult, file: string): void {
  const builder = junit.newBuilder();
  const suite = builder.testSuite().name('keepalive-lab gate');
  const test = suite.testCase()
    .className('keepalive-lab.gate')
    .name(`keep-alive boundary: ${result.proxy.label} -> ${result.upstream.label}`)
    .time(result.seconds)
    .standardOutput(gateText(result));
  if (result.outcome !== 'pass') test.failure(`${result.reason}${result.fix ? `; fix: ${result.fix.text}` : ''}`, result.outcome);
  builder.writeTo(file);
}
