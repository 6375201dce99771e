import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { sweepConfigFromFlags } from '../../src/cli/sweep-command.js';
import { flagKey, SWEEP_FLAGS } from '../../src/cli/sweep-flags.js';
import { boundariesFor, expandTopologyGroups } from '../../src/scenario/cells.js';
import { parseSweepConfig, sweepConfigSchema } from '../../src/scenario/sweep-config.js';

describe('sweep config', () => {
  it('has defaults that make a full sweep', () => {
    const config = parseSweepConfig({});
    expect(config.proxyTimeout).toEqual([60_000, 50]);
    expect(config.offsets).toContain(-3);
    expect(config.offsets).toContain(3);
    expect(config.methods).toEqual(['GET', 'POST']);
  });
  it('names the bad field of a config file', () => {
    expect(() => parseSweepConfig({ upstreamTimeout: ['1s', 'soon'] }, 'config file x.json')).toThrow(/^config file x\.json: upstreamTimeout\.1: "soon" is not a duration/);
    expect(() => parseSweepConfig({ lanes: 0 })).toThrow(/lanes/);
    expect(() => parseSweepConfig({ colour: 'red' })).toThrow(/Unrecognized key: "colour"/);
  });
  it('names the flag, not the schema field, for bad flags', () => {
    expect(() => sweepConfigFromFlags({ proxyTimeout: '5x', progress: true })).toThrow('--proxy-timeout: "5x" is not a duration');
    expect(() => sweepConfigFromFlags({ retry: 'sometimes', progress: true })).toThrow(/^--retry:/);
    expect(() => sweepConfigFromFlags({ trials: 'many', progress: true })).toThrow('--trials: "many" is not a number');
    expect(() => sweepConfigFromFlags({ responseDelay: '-5ms', progress: true })).toThrow('--response-delay: must not be negative');
    expect(sweepConfigFromFlags({ responseDelay: '20ms', bodySize: '4096', progress: true })).toMatchObject({ responseDelay: 20, bodySize: 4096 });
    expect(() => sweepConfigFromFlags({ config: '/nonexistent.json', progress: true })).toThrow('--config: cannot read /nonexistent.json: ENOENT');
  });
  it('groups cells that share a topology (methods share one)', () => {
    const groups = expandTopologyGroups(parseSweepConfig({ proxyTimeout: ['500ms', '60s'], retry: ['default', 'off'], methods: ['GET', 'POST'] }));
    expect(groups).toHaveLength(4);
    expect(groups.every((group) => group.cells.length === 2)).toBe(true);
    expect(new Set(groups.flatMap((group) => group.cells.map((cell) => cell.id))).size).toBe(8);
  });
  it('measures each upstream Node version as its own cells, named by it', () => {
    const groups = expandTopologyGroups(parseSweepConfig({ upstreamNode: ['22', '24.21.0'], methods: ['POST'], retry: ['off'], proxyTimeout: ['60s'] }));
    expect(groups.map((group) => group.cells[0]!.id)).toEqual(['P60000-K100-exact-node22-POST-off', 'P60000-K100-exact-node24.21.0-POST-off']);
    expect(groups.map((group) => group.upstreamNode)).toEqual(['22', '24.21.0']);
    expect(expandTopologyGroups(parseSweepConfig({}))[0]!.cells[0]!.id).toBe('P60000-K100-exact-GET-default');
    expect(() => sweepConfigFromFlags({ upstreamNode: '22,lts', progress: true })).toThrow('--upstream-node: a Node version is a major (22) or a full version (22.23.3)');
  });
  it('aims auto boundaries at the close that comes first', () => {
    expect(boundariesFor('auto', 60_000, 100)).toEqual(['upstream']);
    expect(boundariesFor('auto', 500, 1000)).toEqual(['proxy', 'upstream']);
    expect(boundariesFor('both', 60_000, 100)).toEqual(['upstream', 'proxy']);
  });
});

describe('the sweep\'s flags (one list, cli/sweep-flags.ts)', () => {
  it('each sets a setting of the schema, under the name commander gives it', () => {
    const fields = new Set(Object.keys(sweepConfigSchema.shape));
    for (const flag of SWEEP_FLAGS) {
      expect(fields, flag.option).toContain(flag.field);
      const option = new Command().option(flag.option).options[0]!;
      expect(option.attributeName(), flag.option).toBe(flagKey(flag));
    }
    // Every setting but the ones a sweep only reads from a config file has a flag.
    const flagged = new Set(SWEEP_FLAGS.map((flag) => flag.field));
    expect([...fields].filter((field) => !flagged.has(field as never)).sort()).toEqual(['keepaliveRequests', 'workerProcesses']);
  });

  it('names the flag in a schema error, and refuses --fault with --faults', () => {
    expect(() => sweepConfigFromFlags({ faults: 'latency:upstream:x', progress: true })).toThrow(/^--fault\/--faults:/);
    expect(() => sweepConfigFromFlags({ fault: ['latency:upstream:1ms'], faults: 'none', progress: true })).toThrow('--fault and --faults: give one of them');
    expect(sweepConfigFromFlags({ throughToxiproxy: true, caddyBin: '/usr/bin/caddy', proxy: 'caddy', progress: true })).toMatchObject({ toxiproxy: 'always', caddyBin: '/usr/bin/caddy' });
  });
});
