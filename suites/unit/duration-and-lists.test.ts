import { describe, expect, it } from 'vitest';
import { expandOffsets, splitList } from '../../src/cli/parse-list.js';
import { formatDuration, parseDuration } from '../../src/util/duration.js';

describe('parseDuration', () => {
  it('reads ms, s, m and bare milliseconds', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('40')).toBe(40);
    expect(parseDuration('-0.5ms')).toBe(-0.5);
  });
  it('names the bad text', () => {
    expect(() => parseDuration('5x')).toThrow('"5x" is not a duration');
    expect(() => parseDuration('')).toThrow('is not a duration');
  });
  it('formats back the way settings are written', () => {
    expect(formatDuration(60_000)).toBe('60s');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(1500)).toBe('1.5s');
  });
});

describe('offset lists', () => {
  it('expands FROM..TO@STEP ranges and keeps single items', () => {
    expect(expandOffsets('-20ms,-1ms..1ms@0.5ms,10')).toEqual(['-20ms', -1, -0.5, 0, 0.5, 1, '10']);
  });
  it('rejects a backwards range or a zero step', () => {
    expect(() => expandOffsets('3..1@1')).toThrow('FROM <= TO');
    expect(() => expandOffsets('1..3@0')).toThrow('positive STEP');
  });
  it('splits comma lists and drops empty items', () => {
    expect(splitList('GET, POST,')).toEqual(['GET', 'POST']);
  });
});
