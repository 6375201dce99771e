// vitest global setup: decides once per run which runtimes the claim suites run on. Local
// always; containers when a Docker engine answers and its images are there (or can be pulled).
// In CI (CI set) the container suites must run: an unusable engine fails them with the reason.
// Elsewhere they are skipped with one line saying why.
import type { TestProject } from 'vitest/node';
import { containersRuntime } from '../../src/runtime/containers/containers-runtime.js';
import { ensureImage } from '../../src/runtime/containers/images.js';
import { configuredImages } from '../../src/runtime/containers/image-names.js';
import { dockerEngine } from '../../src/runtime/containers/docker-engine.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Why the containers runtime cannot run here; null when it can. */
    containersUnavailable: string | null;
    /** Run the containers suites even so (CI): they fail with the reason. */
    containersRequired: boolean;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const required = Boolean(process.env.CI) && process.env.KEEPALIVE_LAB_SKIP_CONTAINERS !== '1';
  let reason: string | null = null;
  if (process.env.KEEPALIVE_LAB_SKIP_CONTAINERS === '1') {
    reason = 'KEEPALIVE_LAB_SKIP_CONTAINERS=1';
  } else {
    try {
      await containersRuntime();
      const engine = await dockerEngine();
      if ('client' in engine) await ensureImage(engine.client, configuredImages().toxiproxy);
    } catch (error) {
      reason = (error as Error).message.replace(/^--runtime containers: /, '');
    }
  }
  if (reason !== null) {
    process.stderr.write(required
      ? `keepalive-lab suites: the containers runtime cannot run (${reason}); CI is set, so its suites will fail\n`
      : `keepalive-lab suites: containers runtime skipped: ${reason}\n`);
  }
  project.provide('containersUnavailable', reason);
  project.provide('containersRequired', required);
}
