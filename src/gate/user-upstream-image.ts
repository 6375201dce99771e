// The user's upstream as an image (`--upstream-image IMAGE --upstream-port N`): run on the
// Docker engine through Testcontainers, with PORT=N and the user's environment, reached on its
// bridge address when this host can (no relay in the way), else on a port published to
// 127.0.0.1 (through docker-proxy). Stopped on every path; the reaper removes it if the gate dies.
import { Wait, type StartedTestContainer } from 'testcontainers';
import { dockerEngine } from '../runtime/containers/docker-engine.js';
import { ensureImage } from '../runtime/containers/images.js';
import { engineIsLocal, LoopbackContainer } from '../runtime/containers/loopback-container.js';
import { onCleanup } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { canConnect } from '../util/ports.js';
import { reapDockerObjectOnExit } from '../util/reaper.js';
import type { UserUpstream } from './user-upstream.js';

const START_TIMEOUT_MS = 30_000;

/**
 * An engine that has the image (pulled if it can be): checked before the gate starts anything,
 * so that a missing engine or image is one line with nothing run. Resolves with the image's
 * description for the report.
 */
export async function checkUpstreamImage(image: string): Promise<string> {
  const engine = await dockerEngine();
  if (!('client' in engine)) throw new UsageError(`--upstream-image needs a Docker engine: ${engine.reason.replace(/, or use --runtime local$/, '')}`);
  return ensureImage(engine.client, { role: 'upstream', variable: '--upstream-image', reference: image });
}

export async function startUpstreamImage(image: string, port: number, env: Record<string, string>): Promise<UserUpstream> {
  const described = await checkUpstreamImage(image);
  const engine = await dockerEngine();
  if (!('client' in engine)) throw new UsageError(`--upstream-image needs a Docker engine: ${engine.reason}`);
  const loopback = engineIsLocal(engine.client.info.containerRuntime.host);
  let container: StartedTestContainer;
  try {
    container = await new LoopbackContainer(image, loopback)
      .withEnvironment({ PORT: String(port), ...env })
      .withExposedPorts(port)
      // Any HTTP answer on its port means it is up: images without a shell cannot be checked
      // for a listening port from inside (CONTAINERS.md), and the health path may refuse GET.
      .withWaitStrategy(Wait.forHttp('/', port).forStatusCodeMatching(() => true).withStartupTimeout(START_TIMEOUT_MS))
      .withLabels({ 'keepalive-lab': 'gate-upstream' })
      .start();
  } catch (error) {
    const reason = String((error as Error).message ?? error).split('\n')[0];
    throw new UsageError(`--upstream-image ${image} did not answer HTTP on port ${port} within ${START_TIMEOUT_MS / 1000} s (${reason}): it must listen on --upstream-port (also given to it in env PORT) on every interface of its container (0.0.0.0), not 127.0.0.1`);
  }
  const forget = reapDockerObjectOnExit('container', container.getId());
  const stop = onCleanup(async () => {
    await container.stop().catch(() => {});
    forget();
  });
  // Straight onto the bridge when this host reaches it: the published port would put
  // docker-proxy, one more relay, between the proxy and the upstream.
  const bridgeIp = container.getIpAddress(container.getNetworkNames()[0]!);
  const endpoint = bridgeIp && (await canConnect(bridgeIp, port, 500)) ? { host: bridgeIp, port } : { host: container.getHost(), port: container.getMappedPort(port) };
  return { endpoint, label: `${described}, port ${port}${endpoint.host === bridgeIp ? ' (bridge)' : ' (published port)'}`, stop };
}
