import { describe, expect, it } from 'vitest';
import { classifyNginxMessage, parseNginxErrorLine } from '../../src/proxy/nginx/error-log.js';
import { renderNginxConf, type NginxSpec } from '../../src/proxy/nginx/render.js';

const spec: NginxSpec = { lanes: 2, keepaliveTimeoutMs: 500, keepaliveRequests: 1000, keepaliveConnections: 1, retry: 'off', workerProcesses: 1 };
const addresses = { listen: '127.0.0.1:8080', upstream: '127.0.0.1:9090', prefix: '/tmp/x' };

describe('renderNginxConf', () => {
  it('gives each lane its own upstream pool with the keep-alive settings', () => {
    const conf = renderNginxConf(spec, addresses);
    expect(conf.match(/upstream lane_\d+ \{/g)).toHaveLength(2);
    expect(conf).toContain('keepalive 1;');
    expect(conf).toContain('keepalive_timeout 500ms;');
    expect(conf).toContain('keepalive_requests 1000;');
    expect(conf).toContain('server 127.0.0.1:9090;');
    expect(conf).toContain('listen 127.0.0.1:8080;');
    expect(conf).toContain('proxy_http_version 1.1;');
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain('daemon off;');
    expect(conf).toContain('worker_processes 1;');
    expect(conf).toContain('error_log stderr info;');
    expect(conf).toContain("'$msec $status \"$upstream_status\" $request_time \"$request\"'");
    expect(conf).not.toMatch(/\{\{\w+\}\}/);
  });
  it('renders each retry policy', () => {
    expect(renderNginxConf({ ...spec, retry: 'off' }, addresses)).toContain('proxy_next_upstream off;');
    expect(renderNginxConf({ ...spec, retry: 'non_idempotent' }, addresses)).toContain('proxy_next_upstream error timeout non_idempotent;');
    expect(renderNginxConf({ ...spec, retry: 'default' }, addresses)).not.toContain('proxy_next_upstream');
  });
});

describe('nginx error log', () => {
  const line = (message: string, level = 'error') =>
    `2026/11/24 03:15:48 [${level}] 4242#4242: *17 ${message}, client: 127.0.0.1, server: , request: "POST /lane/3/?t=c1.42 HTTP/1.1", upstream: "http://127.0.0.1:9090/lane/3/?t=c1.42", host: "keepalive-lab"`;
  it('classifies the reasons nginx gives for a failed upstream exchange', () => {
    expect(classifyNginxMessage('upstream prematurely closed connection while reading response header from upstream')).toBe('prematurely_closed');
    expect(classifyNginxMessage('recv() failed (104: Connection reset by peer) while reading response header from upstream')).toBe('reset_by_peer');
    expect(classifyNginxMessage('writev() failed (32: Broken pipe) while sending request to upstream')).toBe('broken_pipe');
    expect(classifyNginxMessage('connect() failed (111: Connection refused) while connecting to upstream')).toBe('refused');
    expect(classifyNginxMessage('upstream timed out (110: Connection timed out) while reading response header from upstream')).toBe('timed_out');
    expect(classifyNginxMessage('something new')).toBe('other');
  });
  it('reads the level, the reason and the trial id from a line', () => {
    expect(parseNginxErrorLine(line('upstream prematurely closed connection while reading response header from upstream'), 1000)).toMatchObject({
      type: 'proxy-log', at: 1000, level: 'error', reason: 'prematurely_closed', trial: 'c1.42',
    });
  });
  it('drops info-level client chatter and start-up notices', () => {
    expect(parseNginxErrorLine('2026/11/24 03:15:48 [info] 4242#4242: *3 client 127.0.0.1 closed keepalive connection', 0)).toBeNull();
    expect(parseNginxErrorLine('2026/11/24 03:15:48 [notice] 4242#4242: using the "epoll" event method', 0)).toBeNull();
    expect(parseNginxErrorLine('not a log line', 0)).toBeNull();
  });
});
