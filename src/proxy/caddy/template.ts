// The Caddyfile the gate renders when the user gives only `--proxy-timeout`: one site proxying
// to the upstream, its transport's keepalive at the timeout, as a template.
import type { RetryPolicy } from '../../vocabulary.js';

export function renderedCaddyfileTemplate(proxyTimeoutMs: number, keepaliveConnections: number, retry: RetryPolicy): string {
  const retryLines = retry === 'lb_retries' ? '\n\t\tlb_retries 3\n\t\tlb_retry_match {\n\t\t\tmethod GET HEAD POST PUT PATCH DELETE OPTIONS\n\t\t}' : '';
  return `{{listen}} {
\treverse_proxy {{upstream}} {
\t\ttransport http {
\t\t\tkeepalive ${proxyTimeoutMs}ms
\t\t\tkeepalive_idle_conns_per_host ${keepaliveConnections}
\t\t}${retryLines}
\t}
}
`;
}
