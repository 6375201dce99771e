// `haproxy -c`: HAProxy's own verdict on a config, before anything starts.
import { spawnSync } from 'node:child_process';

/**
 * `haproxy -c` of a config file: null when HAProxy accepts it, else its first complaint
 * (e.g. "[ALERT] ... parsing [/path/haproxy.cfg:12] : unknown keyword 'foo' ...").
 */
export function testHaproxyConf(binary: string, confPath: string): string | null {
  const result = spawnSync(binary, ['-c', '-f', confPath], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.stdout}`.split('\n');
  const complaint = lines.find((line) => /\[ALERT\]/.test(line)) ?? lines.find((line) => line.trim() !== '') ?? `exit ${result.status}`;
  // "[NOTICE]   (1) : ..." / "[ALERT]    (1234) : config : parsing [...]": drop the pid.
  return complaint.replace(/^\[(\w+)\]\s+\(\d+\)\s*:\s*/, '[$1] ').trim();
}
