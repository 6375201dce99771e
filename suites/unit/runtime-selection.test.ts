import { describe, expect, it } from 'vitest';
import { configuredImages, DEFAULT_IMAGES, nodeImageFor } from '../../src/runtime/containers/image-names.js';
import { runtimeChoice } from '../../src/runtime/select-runtime.js';
import { parseUpstreamLine } from '../../src/upstream/upstream-output.js';
import { localDockerSocket } from '../../src/util/reaper.js';

describe('runtime choice', () => {
  it('takes the flag, else KEEPALIVE_LAB_RUNTIME, else local', () => {
    expect(runtimeChoice('containers', { KEEPALIVE_LAB_RUNTIME: 'local' })).toBe('containers');
    expect(runtimeChoice(undefined, { KEEPALIVE_LAB_RUNTIME: 'auto' })).toBe('auto');
    expect(runtimeChoice(undefined, {})).toBe('local');
  });

  it('names the source of a bad value and the choices', () => {
    expect(() => runtimeChoice('docker', {})).toThrow('--runtime: "docker" is not a runtime; use auto, local, containers');
    expect(() => runtimeChoice(undefined, { KEEPALIVE_LAB_RUNTIME: 'k8s' })).toThrow(/^KEEPALIVE_LAB_RUNTIME: "k8s"/);
  });
});

describe('images', () => {
  it('default to the official images, each overridable by its variable', () => {
    expect(configuredImages({}).toxiproxy.reference).toBe(DEFAULT_IMAGES.toxiproxy.reference);
    expect(DEFAULT_IMAGES.toxiproxy.reference).toMatch(/^ghcr\.io\/shopify\/toxiproxy:2\.\d+\.\d+$/);
    const images = configuredImages({ KEEPALIVE_LAB_NGINX_IMAGE: 'mirror.local/nginx:1.28', KEEPALIVE_LAB_NODE_IMAGE: ' ' });
    expect(images.nginx).toEqual({ role: 'nginx', variable: 'KEEPALIVE_LAB_NGINX_IMAGE', reference: 'mirror.local/nginx:1.28' });
    expect(images.node.reference).toBe(DEFAULT_IMAGES.node.reference);
  });

  it('for an upstream Node version: node:N-slim, or KEEPALIVE_LAB_NODE_IMAGE_N (dots as underscores)', () => {
    expect(nodeImageFor('22', {})).toEqual({ role: 'node', variable: 'KEEPALIVE_LAB_NODE_IMAGE_22', reference: 'node:22-slim' });
    expect(nodeImageFor('22.23.3', { KEEPALIVE_LAB_NODE_IMAGE_22_23_3: 'keepalive-lab/node:22-offline' }).reference).toBe('keepalive-lab/node:22-offline');
  });
});

describe('upstream output lines', () => {
  it('tells the ready line, events and anything else apart', () => {
    expect(parseUpstreamLine('{"event":"listening","port":3000,"node":"v24.1.0"}')).toEqual({ kind: 'listening', port: 3000, node: 'v24.1.0' });
    expect(parseUpstreamLine('{"t":12.5,"ev":"close","conn":3,"by":"server-idle","idleMs":100.2}'))
      .toEqual({ kind: 'event', event: { type: 'upstream', t: 12.5, ev: 'close', conn: 3, by: 'server-idle', idleMs: 100.2 } });
    expect(parseUpstreamLine('upstream-server: --close-style must be fin or rst')).toBeNull();
    expect(parseUpstreamLine('{"level":"info"}')).toBeNull();
  });
});

describe('the reaper\'s Docker socket', () => {
  it('is the local socket, or none for a remote engine (left to Ryuk)', () => {
    expect(localDockerSocket({})).toBe('/var/run/docker.sock');
    expect(localDockerSocket({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe('/run/user/1000/docker.sock');
    expect(localDockerSocket({ DOCKER_HOST: 'tcp://10.0.0.5:2376' })).toBeNull();
  });
});
