// limit_data: the first `bytes` bytes of the connection pass, then it is closed.
import type { ToxicDefinition } from './toxic.js';

export const limitData: ToxicDefinition<{ bytes: number }> = {
  type: 'limit_data',
  defaults: { bytes: 0 },
  stage(attributes, next) {
    let sent = 0;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      next.end();
    };
    return {
      push(chunk) {
        if (closed) return;
        const allowed = Math.max(0, attributes.bytes - sent);
        const data = allowed < chunk.data.length ? chunk.data.subarray(0, allowed) : chunk.data;
        if (data.length > 0) next.push({ data, at: chunk.at });
        sent += data.length;
        if (sent >= attributes.bytes) close();
      },
      end: close,
      flush() {
        closed = true;
        return [];
      },
    };
  },
};
