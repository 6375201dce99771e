// reset_peer: on the first data (or EOF) after it is in place, wait `timeout` ms, then reset
// the connection: RST to both peers, data dropped.
import { msToNs, type ToxicDefinition } from './toxic.js';

export const resetPeer: ToxicDefinition<{ timeout: number }> = {
  type: 'reset_peer',
  defaults: { timeout: 0 },
  stage(attributes, _next, link) {
    let armed = false;
    let stopped = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      void link.at(process.hrtime.bigint() + msToNs(attributes.timeout)).then(() => {
        if (!stopped) link.reset();
      });
    };
    return {
      push: arm,
      end: arm,
      flush() {
        stopped = true;
        return [];
      },
    };
  },
};
