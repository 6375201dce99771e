// Is there a Docker engine to run containers on? Asked once per process, with a time limit,
// so that `--runtime auto` and the suites decide quickly on a machine without one.
import { getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';

export type EngineAnswer = { client: ContainerRuntimeClient } | { reason: string };

const ANSWER_TIMEOUT_MS = 15_000;
let answer: Promise<EngineAnswer> | null = null;

export function dockerEngine(): Promise<EngineAnswer> {
  answer ??= askEngine();
  return answer;
}

async function askEngine(): Promise<EngineAnswer> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)), ANSWER_TIMEOUT_MS); }),
    ]);
    return { client };
  } catch (error) {
    const message = String((error as Error)?.message ?? error).split('\n')[0]!;
    return { reason: `no Docker engine answers (${message}): start one, or use --runtime local` };
  } finally {
    clearTimeout(timer);
  }
}
