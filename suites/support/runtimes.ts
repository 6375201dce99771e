// The claim suites run once per runtime: `describeOnRuntimes(title, (runtime) => ...)` declares
// the same tests for local and for containers (see runtimes-setup.ts for when containers run).
import { describe, inject, it } from 'vitest';
import { containersRuntime } from '../../src/runtime/containers/containers-runtime.js';
import { localRuntime } from '../../src/runtime/local-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';

export type RuntimeName = 'local' | 'containers';

const created = new Map<RuntimeName, Promise<Runtime>>();

/** The runtime by name, created once per test file. */
export function runtimeNamed(name: RuntimeName): Promise<Runtime> {
  let runtime = created.get(name);
  if (!runtime) {
    runtime = name === 'local' ? Promise.resolve(localRuntime()) : containersRuntime();
    created.set(name, runtime);
  }
  return runtime;
}

export function describeOnRuntimes(title: string, body: (runtime: () => Promise<Runtime>, name: RuntimeName) => void): void {
  describe(`${title} [local]`, () => body(() => runtimeNamed('local'), 'local'));
  const unavailable = inject('containersUnavailable');
  if (unavailable === null) {
    describe(`${title} [containers]`, () => body(() => runtimeNamed('containers'), 'containers'));
  } else if (inject('containersRequired')) {
    describe(`${title} [containers]`, () => {
      it('has a containers runtime to run on', () => {
        throw new Error(`the containers runtime cannot run: ${unavailable}`);
      });
    });
  } else {
    describe.skip(`${title} [containers] (skipped: ${unavailable})`, () => {
      it('runs on the containers runtime', () => {});
    });
  }
}
