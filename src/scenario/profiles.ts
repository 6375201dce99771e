// Load-balancer profiles: named presets that stand in for proxies met in the field, built from
// what this harness can run (nginx). Each says what it models and, as plainly, what it cannot:
// a profile answers "my upstream behind something that behaves like X at the keep-alive
// boundary", never "behind X".

export interface LoadBalancerProfile {
  name: string;
  /** One line: what it stands in for. */
  summary: string;
  models: string[];
  cannotModel: string[];
  /** Settings it presets (sweep config fields, validated with the rest); anything the user sets wins. */
  settings: { proxyTimeout?: number[]; retry?: ('default' | 'off' | 'non_idempotent')[] };
}

export const PROFILES = {
  'nginx-default': {
    name: 'nginx-default',
    summary: 'nginx as shipped, with upstream keep-alive enabled',
    models: [
      'upstream keepalive_timeout 60s (nginx\'s default since 1.15.3)',
      'proxy_next_upstream "error timeout": a failed cached connection gets one retry for GET; POST is not retried (since 1.9.13)',
    ],
    cannotModel: [
      'pool size and worker count: the harness gives each lane its own pool of one connection to aim the idle time',
    ],
    settings: { proxyTimeout: [60_000], retry: ['default'] },
  },
  alb: {
    name: 'alb',
    summary: 'an AWS Application Load Balancer-like proxy: idle timeout 60 s, no retry',
    models: [
      'idle timeout 60 s, the ALB default (configurable 1-4000 s there: set --proxy-timeout)',
      'no retry of a request that met a closed target connection: the client gets the 502 ("The target closed the connection with a TCP RST or a TCP FIN while the load balancer had an outstanding request")',
    ],
    cannotModel: [
      'ALB\'s own connection pooling and reuse order across its nodes (nginx reuses LIFO per lane here)',
      'the client-side idle timeout, HTTP/2 to clients, and ALB-specific status codes and metrics',
      'timing of ALB\'s network: a cloud hop adds latency that widens the window (see the faults suites)',
    ],
    settings: { proxyTimeout: [60_000], retry: ['off'] },
  },
  gclb: {
    name: 'gclb',
    summary: 'a Google Cloud external Application Load Balancer-like proxy: backend keep-alive 600 s',
    models: [
      'backend keep-alive 600 s ("configure your backend ... keepalive timeout greater than 600 seconds")',
    ],
    cannotModel: [
      'GCLB\'s retry rules: not verified here; the profile uses nginx\'s default (GET retried once, POST not): add --retry off for the case where nothing is retried',
      'Google front ends\' pooling across many proxies, and their network timing',
    ],
    settings: { proxyTimeout: [600_000], retry: ['default'] },
  },
} satisfies Record<string, LoadBalancerProfile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as [ProfileName, ...ProfileName[]];

export function describeProfile(profile: LoadBalancerProfile): string {
  return [`${profile.name}: ${profile.summary}`, ...profile.models.map((m) => `  models: ${m}`), ...profile.cannotModel.map((c) => `  cannot model: ${c}`)].join('\n');
}

/** The profile a run was measured with, from its recorded settings. */
export function profileOf(settings: Record<string, unknown> | undefined): LoadBalancerProfile | null {
  const name = settings?.profile;
  return typeof name === 'string' && name in PROFILES ? PROFILES[name as ProfileName] : null;
}
