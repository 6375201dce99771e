// The proxy config the gate renders when the user gives only `--proxy-timeout`: nginx set up
// the way a deploy guide sets it up for upstream keep-alive, as a template that goes through the
// same preparation as a user's own.
import type { RetryPolicy } from '../../vocabulary.js';

export function renderedProxyTemplate(proxyTimeoutMs: number, keepaliveConnections: number, retry: RetryPolicy): string {
  const nextUpstream = retry === 'off' ? '\n            proxy_next_upstream off;' : retry === 'non_idempotent' ? '\n            proxy_next_upstream error timeout non_idempotent;' : '';
  return `worker_processes 1;
events {
    worker_connections 1024;
}
http {
    upstream app {
        server {{upstream}};
        keepalive ${keepaliveConnections};
        keepalive_timeout ${proxyTimeoutMs}ms;
    }
    server {
        listen {{listen}};
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";${nextUpstream}
        }
    }
}
`;
}
