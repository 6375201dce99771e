// The shipped manifests for running shards elsewhere: schema-checked with kubernetes-models (the
// API's own OpenAPI schemas), and tied to the harness: the settings they pass are settings the
// sweep takes, and every index the Job or matrix starts is a shard of the same N.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { parseSweepConfig } from '../../src/scenario/sweep-config.js';
import { parseShard } from '../../src/scenario/shards.js';

const read = (file: string) => fs.readFileSync(fileURLToPath(new URL(`../../deploy/${file}`, import.meta.url)), 'utf8');
const MODELS: Record<string, new (data: never) => { validate(): void }> = { ConfigMap, PersistentVolumeClaim, Job };

describe('the Kubernetes Indexed Job (deploy/kubernetes/sweep-indexed-job.yaml)', () => {
  const documents = parseAllDocuments(read('kubernetes/sweep-indexed-job.yaml')).map((document) => document.toJS() as { kind: string; [key: string]: unknown });

  it('is valid against the Kubernetes API schemas, every document of it', () => {
    expect(documents.map((document) => document.kind)).toEqual(['ConfigMap', 'PersistentVolumeClaim', 'Job']);
    for (const document of documents) expect(() => new MODELS[document.kind]!(document as never).validate(), document.kind).not.toThrow();
    // The check can fail: a Job without its template is refused.
    expect(() => new Job({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' }, spec: { completionMode: 'Indexed' } } as never).validate()).toThrow();
  });

  it('starts N indexed pods, each a shard auto/N of one config the sweep accepts, into its own directory', () => {
    const job = documents.find((document) => document.kind === 'Job') as unknown as { spec: { completionMode: string; completions: number; parallelism: number;
      template: { spec: { restartPolicy: string; containers: { args: string[]; env: { name: string; valueFrom: { fieldRef: { fieldPath: string } } }[] }[] } } } };
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const container = job.spec.template.spec.containers[0]!;
    const arg = (flag: string) => container.args[container.args.indexOf(flag) + 1]!;
    expect(arg('--shard')).toBe(`auto/${job.spec.completions}`);
    expect(arg('--out')).toBe('/results/shard-$(JOB_COMPLETION_INDEX)');
    expect(container.env.find((env) => env.name === 'JOB_COMPLETION_INDEX')!.valueFrom.fieldRef.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
    for (let index = 0; index < job.spec.completions; index++) {
      expect(parseShard(arg('--shard'), { JOB_COMPLETION_INDEX: String(index) })).toEqual({ index: index + 1, count: job.spec.completions });
    }
    const configMap = documents.find((document) => document.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    const settings = JSON.parse(configMap.data['sweep.json']!) as Record<string, unknown>;
    expect(() => parseSweepConfig({ ...settings, shard: arg('--shard').replace('auto', '1') })).not.toThrow();
  });
});

describe('the GitHub Actions workflow (deploy/github-actions/sweep-shards.yml)', () => {
  const workflow = parse(read('github-actions/sweep-shards.yml')) as { jobs: Record<string, { needs?: string; if?: string; strategy?: { 'fail-fast': boolean; matrix: { shard: number[] } }; steps: { run?: string }[] }> };

  it('runs shards 1..N of one N, every one even when another fails, and merges after all of them', () => {
    const shard = workflow.jobs.shard!;
    expect(shard.strategy!['fail-fast']).toBe(false);
    const indices = shard.strategy!.matrix.shard;
    const sweep = shard.steps.find((step) => step.run?.includes('keepalive-lab sweep'))!.run!;
    const count = Number(/--shard \$\{\{ matrix\.shard \}\}\/(\d+)/.exec(sweep)![1]);
    expect(indices).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const merge = workflow.jobs.merge!;
    expect(merge.needs).toBe('shard');
    expect(merge.if).toBe('always()');
    expect(merge.steps.some((step) => step.run?.startsWith('npx keepalive-lab merge shard-* --out merged'))).toBe(true);
  });
});
