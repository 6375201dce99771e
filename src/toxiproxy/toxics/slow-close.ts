// slow_close: data passes untouched; the close (EOF) is held back `delay` ms. Through it, a
// FIN from the server reaches the client that much later: the proxy keeps reusing a dead
// connection meanwhile.
import { msToNs, type ToxicDefinition } from './toxic.js';

export const slowClose: ToxicDefinition<{ delay: number }> = {
  type: 'slow_close',
  defaults: { delay: 0 },
  stage(attributes, next, link) {
    let stopped = false;
    return {
      push: (chunk) => next.push(chunk),
      end() {
        void link.at(process.hrtime.bigint() + msToNs(attributes.delay)).then(() => {
          if (!stopped) next.end();
        });
      },
      flush() {
        stopped = true;
        return [];
      },
    };
  },
};
