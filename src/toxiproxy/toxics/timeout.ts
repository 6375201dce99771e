// timeout: no data passes; after `timeout` ms the connection is closed (0: never closed).
import { msToNs, type ToxicDefinition } from './toxic.js';

export const timeout: ToxicDefinition<{ timeout: number }> = {
  type: 'timeout',
  defaults: { timeout: 0 },
  stage(attributes, next, link) {
    let done = false;
    const close = () => {
      if (done) return;
      done = true;
      next.end();
    };
    if (attributes.timeout > 0) void link.at(process.hrtime.bigint() + msToNs(attributes.timeout)).then(close);
    return {
      push: () => {}, // dropped on the ground, as Toxiproxy does
      end: close,
      flush() {
        done = true;
        return [];
      },
    };
  },
};
