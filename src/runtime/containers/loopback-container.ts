// Testcontainers publishes ports on every host interface (0.0.0.0). When the engine is on this
// host, bind them to 127.0.0.1 instead: a measurement topology has no business listening on
// the machine's network.
import { GenericContainer, type PortWithOptionalBinding } from 'testcontainers';

export class LoopbackContainer extends GenericContainer {
  constructor(image: string, private readonly loopbackOnly: boolean) {
    super(image);
  }

  override withExposedPorts(...ports: PortWithOptionalBinding[]): this {
    super.withExposedPorts(...ports);
    if (this.loopbackOnly) {
      const bindings = this.hostConfig.PortBindings as Record<string, { HostIp?: string; HostPort?: string }[]>;
      for (const [port, entries] of Object.entries(bindings)) bindings[port] = entries.map((entry) => ({ ...entry, HostIp: '127.0.0.1' }));
    }
    return this;
  }
}

/** True when published ports are reached on this machine's loopback. */
export function engineIsLocal(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '::1';
}
