/**
 * An error a user can fix: its message is the one line shown (what is wrong and what to do),
 * and the CLI exits with `exitCode` and no stack trace.
 */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UsageError';
  }
}
