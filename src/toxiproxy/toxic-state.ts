// A toxic as the API shows it, validated the way Toxiproxy decodes it.
import { MAX_TOXIC_ATTRIBUTE } from '../faults/limits.js';
import { ApiError, ERRORS } from './api-error.js';
import { TOXICS } from './toxics/registry.js';

export type Stream = 'upstream' | 'downstream';

export interface ToxicState {
  name: string;
  type: string;
  stream: Stream;
  toxicity: number;
  attributes: Record<string, number>;
}

/** A new toxic from a request body: defaults as Toxiproxy's (downstream, toxicity 1, name type_stream). */
export function toxicFromBody(body: unknown): ToxicState {
  if (!isObject(body)) throw ERRORS.badBody('expected a JSON object');
  const stream = body.stream ?? 'downstream';
  if (stream !== 'upstream' && stream !== 'downstream') throw ERRORS.invalidStream;
  const type = body.type;
  if (typeof type !== 'string' || !(type in TOXICS)) throw ERRORS.invalidToxicType;
  if (body.name !== undefined && typeof body.name !== 'string') throw ERRORS.badBody('name must be a string');
  const name = body.name || `${type}_${stream}`;
  return { name, type, stream, toxicity: toxicity(body.toxicity, 1), attributes: attributes(type, body.attributes, TOXICS[type]!.defaults) };
}

/** An update: given attributes and toxicity replace the current ones; the rest stays. */
export function updatedToxic(current: ToxicState, body: unknown): ToxicState {
  if (!isObject(body)) throw ERRORS.badBody('expected a JSON object');
  return {
    ...current,
    toxicity: toxicity(body.toxicity, current.toxicity),
    attributes: attributes(current.type, body.attributes, current.attributes),
  };
}

function toxicity(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || value < 0 || value > 1) throw ERRORS.badBody('toxicity must be a number in [0, 1]');
  return value;
}

function attributes(type: string, value: unknown, base: Record<string, number>): Record<string, number> {
  if (value === undefined || value === null) return { ...base };
  if (!isObject(value)) throw ERRORS.badBody('attributes must be an object');
  const result = { ...base };
  for (const key of Object.keys(TOXICS[type]!.defaults)) {
    const given = value[key];
    if (given === undefined) continue;
    // Toxiproxy decodes into integer fields: a string or a fraction is a bad body.
    if (typeof given !== 'number' || !Number.isFinite(given)) throw new ApiError(`bad request body: attribute ${key} must be a number`, 400);
    if (given < 0) throw new ApiError(`bad request body: attribute ${key} must not be negative`, 400);
    // Toxiproxy's fields are int64; here they become timers and byte counts, so a value past
    // what a timer holds is refused rather than left to fire at once.
    if (given > MAX_TOXIC_ATTRIBUTE) throw new ApiError(`bad request body: attribute ${key} must be at most ${MAX_TOXIC_ATTRIBUTE}`, 400);
    result[key] = given;
  }
  return result;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
