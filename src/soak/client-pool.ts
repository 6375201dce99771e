// The soak's client side: keep-alive connections to the proxy, at most a given number open. An
// arrival takes an idle one (the most recently used) or opens one, and waits when all are busy.
import type { Endpoint } from '../vocabulary.js';
import { HttpConnection } from '../workload/http-connection.js';

export class ClientPool {
  private readonly idle: HttpConnection[] = [];
  private readonly waiting: (() => void)[] = [];
  private open = 0;

  constructor(private readonly proxy: Endpoint, private readonly maxConnections: number) {}

  async take(): Promise<HttpConnection> {
    for (;;) {
      const reused = this.idle.pop();
      if (reused?.isOpen) return reused;
      if (reused) this.open--;
      if (this.open < this.maxConnections) {
        this.open++;
        const connection = new HttpConnection(this.proxy);
        try {
          await connection.connect();
        } catch (error) {
          this.open--;
          throw error;
        }
        return connection;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** Back to the pool when it may carry another request (`keep`), else closed. */
  giveBack(connection: HttpConnection, keep: boolean): void {
    if (keep && connection.isOpen) this.idle.push(connection);
    else {
      connection.close();
      this.open--;
    }
    this.waiting.shift()?.();
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.close();
  }
}
