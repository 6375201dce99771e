// An image on the Docker engine before anything starts: found, or pulled, or one line with the fix.
import { ImageName, type ContainerRuntimeClient } from 'testcontainers';
import { UsageError } from '../../util/errors.js';
import type { ImageChoice } from './image-names.js';

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
