import { describe, expect, it } from 'vitest';
import { faultsLabel, parseFaultSpec } from '../../src/faults/fault.js';
import { parseSweepConfig } from '../../src/scenario/sweep-config.js';
import { expandTopologyGroups } from '../../src/scenario/cells.js';

describe('fault specs', () => {
  it('read TYPE:STREAM[:VALUE][:KEY=VALUE] with durations in ms', () => {
    expect(parseFaultSpec('latency:upstream:10ms')).toEqual({ type: 'latency', stream: 'upstream', attributes: { latency: 10 }, toxicity: 1 });
    expect(parseFaultSpec('latency:downstream:10ms:jitter=2ms')).toEqual({ type: 'latency', stream: 'downstream', attributes: { latency: 10, jitter: 2 }, toxicity: 1 });
    expect(parseFaultSpec('slow_close:downstream:1s')).toMatchObject({ attributes: { delay: 1000 } });
    expect(parseFaultSpec('bandwidth:downstream:100:toxicity=0.5')).toEqual({ type: 'bandwidth', stream: 'downstream', attributes: { rate: 100 }, toxicity: 0.5 });
  });
  it('name the problem in a bad spec', () => {
    expect(() => parseFaultSpec('lag:upstream:10ms')).toThrow('unknown type "lag"');
    expect(() => parseFaultSpec('latency:sideways:10ms')).toThrow('stream must be upstream or downstream');
    expect(() => parseFaultSpec('latency:upstream:soon')).toThrow('is not a duration');
    expect(() => parseFaultSpec('latency:upstream:10ms:colour=red')).toThrow('latency has no attribute "colour"');
    expect(() => parseFaultSpec('latency:upstream:10ms:toxicity=2')).toThrow('toxicity must be in [0, 1]');
    // Past what a timer holds (2^31-1 ms), a delay would fire at once.
    expect(() => parseFaultSpec('latency:upstream:999999999999ms')).toThrow('latency must be at most 2147483647 ms');
    expect(() => parseFaultSpec('limit_data:downstream:3000000000')).toThrow('bytes must be at most 2147483647');
  });
  it('label fault sets for cell ids', () => {
    expect(faultsLabel([])).toBe('none');
    expect(faultsLabel([parseFaultSpec('latency:upstream:10ms:jitter=2ms'), parseFaultSpec('slow_close:downstream:20ms')])).toBe('latency:upstream:10:jitter=2+slow_close:downstream:20');
  });
  it('make fault sets part of the cells, and route fault-free cells straight unless told', () => {
    const config = parseSweepConfig({ faults: [[], ['latency:upstream:10ms']], methods: ['POST'], retry: ['off'], proxyTimeout: ['60s'] });
    const cells = expandTopologyGroups(config).flatMap((group) => group.cells);
    expect(cells.map((cell) => [cell.path, cell.id])).toEqual([
      ['direct', 'P60000-K100-exact-POST-off'],
      ['toxiproxy', 'P60000-K100-exact-POST-off-toxiproxy-latency:upstream:10'],
    ]);
    const always = parseSweepConfig({ faults: [[]], toxiproxy: 'always', methods: ['POST'], retry: ['off'], proxyTimeout: ['60s'] });
    expect(expandTopologyGroups(always)[0]!.path).toBe('toxiproxy');
    expect(() => parseSweepConfig({ faults: [['latency:up:1ms']] }, 'config file f.json')).toThrow(/^config file f\.json: faults\.0\.0: fault "latency:up:1ms": stream must be/);
  });
});
