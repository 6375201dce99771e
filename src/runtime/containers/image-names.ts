// The images the containers runtime runs are configuration: official images by default, any
// image a user names through the environment (a registry mirror, or the local stand-ins that
// containers/offline/build-images.sh builds where no registry can be reached). Names only: this
// module loads without the Docker client (testcontainers is an optional peer dependency).
import { proxyFlavours } from '../../proxy/registry.js';

/** What an image is for: the harness's own parts (`toxiproxy`, `node`), or a proxy flavour by its name. */
export type ImageRole = string;

export interface ImageChoice {
  /** `upstream`: a user's own image (the gate's --upstream-image). */
  role: ImageRole | 'upstream';
  /** The environment variable that names it. */
  variable: string;
  reference: string;
}

/** The harness's own images, and one per proxy flavour that runs as a container (by its name). */
export type Images<T> = { toxiproxy: T; node: T } & Partial<Record<string, T>>;

/** Each proxy flavour that runs as a container names its own image (src/proxy/<flavour>/). */
export const DEFAULT_IMAGES: Images<{ variable: string; reference: string }> = {
  ...Object.fromEntries(proxyFlavours().flatMap((flavour) => (flavour.container ? [[flavour.name, { variable: flavour.container.variable, reference: flavour.container.reference }]] : []))),
  // Pinned: the fault layer's semantics are part of what is measured.
  toxiproxy: { variable: 'KEEPALIVE_LAB_TOXIPROXY_IMAGE', reference: 'ghcr.io/shopify/toxiproxy:2.12.0' },
  node: { variable: 'KEEPALIVE_LAB_NODE_IMAGE', reference: 'node:24-slim' },
};

export function configuredImages(env: NodeJS.ProcessEnv = process.env): Images<ImageChoice> {
  return Object.fromEntries(Object.entries(DEFAULT_IMAGES).flatMap(([role, image]) => (image ? [image] : []).map(({ variable, reference }) =>
    [role, { role, variable, reference: env[variable]?.trim() || reference }]))) as Images<ImageChoice>;
}

/**
 * The upstream's image for a requested Node version: `node:N-slim`, or what
 * KEEPALIVE_LAB_NODE_IMAGE_N names (dots as underscores: KEEPALIVE_LAB_NODE_IMAGE_22_23_3).
 */
export function nodeImageFor(version: string, env: NodeJS.ProcessEnv = process.env): ImageChoice {
  const variable = `KEEPALIVE_LAB_NODE_IMAGE_${version.replace(/\./g, '_')}`;
  return { role: 'node', variable, reference: env[variable]?.trim() || `node:${version}-slim` };
}
