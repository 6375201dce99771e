// The images the containers runtime runs are configuration: official images by default, any
// image a user names through the environment (a registry mirror, or the local stand-ins that
// containers/offline/build-images.sh builds where no registry can be reached).
import { ImageName, type ContainerRuntimeClient } from 'testcontainers';
import { UsageError } from '../../util/errors.js';

export type ImageRole = 'nginx' | 'toxiproxy' | 'node';

export interface ImageChoice {
  /** `upstream`: a user's own image (the gate's --upstream-image). */
  role: ImageRole | 'upstream';
  /** The environment variable that names it. */
  variable: string;
  reference: string;
}

export const DEFAULT_IMAGES: Record<ImageRole, { variable: string; reference: string }> = {
  nginx: { variable: 'KEEPALIVE_LAB_NGINX_IMAGE', reference: 'nginx:1.28' },
  // Pinned: the fault layer's semantics are part of what is measured.
  toxiproxy: { variable: 'KEEPALIVE_LAB_TOXIPROXY_IMAGE', reference: 'ghcr.io/shopify/toxiproxy:2.12.0' },
  node: { variable: 'KEEPALIVE_LAB_NODE_IMAGE', reference: 'node:24-slim' },
};

export function configuredImages(env: NodeJS.ProcessEnv = process.env): Record<ImageRole, ImageChoice> {
  const pick = (role: ImageRole): ImageChoice => {
    const { variable, reference } = DEFAULT_IMAGES[role];
    const fromEnv = env[variable]?.trim();
    return { role, variable, reference: fromEnv || reference };
  };
  return { nginx: pick('nginx'), toxiproxy: pick('toxiproxy'), node: pick('node') };
}

/**
 * The upstream's image for a requested Node version: `node:N-slim`, or what
 * KEEPALIVE_LAB_NODE_IMAGE_N names (dots as underscores: KEEPALIVE_LAB_NODE_IMAGE_22_23_3).
 */
export function nodeImageFor(version: string, env: NodeJS.ProcessEnv = process.env): ImageChoice {
  const variable = `KEEPALIVE_LAB_NODE_IMAGE_${version.replace(/\./g, '_')}`;
  return { role: 'node', variable, reference: env[variable]?.trim() || `node:${version}-slim` };
}

/** How long a missing image may take to pull before the run gives up with the fix. */
const PULL_TIMEOUT_MS = 180_000;

/**
 * Makes sure the image is on the engine (pulling it if not) and names it for the record:
 * "reference@digest" when it came from a registry, else "reference (image id)".
 */
export async function ensureImage(client: ContainerRuntimeClient, choice: ImageChoice): Promise<string> {
  const name = ImageName.fromString(choice.reference);
  if (!(await client.image.exists(name))) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.image.pull(name),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${PULL_TIMEOUT_MS / 1000} s`)), PULL_TIMEOUT_MS); }),
      ]);
    } catch (error) {
      throw new UsageError(`${choice.role} image "${choice.reference}" is not on the Docker engine and could not be pulled (${firstLine(error)}): ` +
        (choice.role === 'upstream' ? `build or pull it first, or give ${choice.variable} an image the engine has`
          : `pull it, or set ${choice.variable} to an image you have (containers/offline/build-images.sh builds local ones)`));
    } finally {
      clearTimeout(timer);
    }
  }
  const inspected = await client.image.inspect(name);
  const digest = inspected.RepoDigests?.find((entry) => entry.startsWith(`${name.registry ? `${name.registry}/` : ''}${name.image}@`))
    ?? inspected.RepoDigests?.[0];
  return digest ? `${choice.reference}@${digest.split('@')[1]}` : `${choice.reference} (${inspected.Id.slice(0, 19)})`;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!.trim();
}
