// The HAProxy config the gate renders when the user gives only `--proxy-timeout`.
import type { RetryPolicy } from '../../vocabulary.js';

/**
 * The HAProxy config the gate renders for `--proxy haproxy --proxy-timeout`: HAProxy's defaults
 * (http-reuse safe, retries 3 on connection failures) and the idle timeout, as a template.
 */
export function renderedHaproxyTemplate(proxyTimeoutMs: number, retry: RetryPolicy): string {
  const retryLines = retry === 'off' ? '\n    retries 0' : retry === 'all_retryable' ? '\n    retries 3\n    retry-on all-retryable-errors' : '';
  return `defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive ${proxyTimeoutMs}ms${retryLines}
frontend web
    bind {{listen}}
    default_backend app
backend app
    server app {{upstream}}
`;
}
