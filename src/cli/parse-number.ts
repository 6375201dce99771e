// Numbers on the command line: one line naming the flag and what it must be (exit 2).
import { UsageError } from '../util/errors.js';

export function positiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag}: "${text}" must be a positive integer`);
  return value;
}

export function positiveNumber(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag}: "${text}" must be a number above 0`);
  return value;
}
