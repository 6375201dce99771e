// A traffic description as people give it: a rate ("50/s", "3000/min", "1.7M/day") or a day's
// profile of rates ("20/s:8h,200/s:16h"), each part Poisson at its rate.
import { z } from 'zod';
import { UsageError } from '../util/errors.js';

export interface TrafficSegment {
  ratePerSecond: number;
  /** Hours of the day at this rate. */
  hours: number;
}

export interface Traffic {
  /** As given. */
  text: string;
  segments: TrafficSegment[];
  /** Requests over the day, and their mean rate per second. */
  requestsPerDay: number;
  meanRatePerSecond: number;
}

const PER_SECOND: Record<string, number> = { s: 1, sec: 1, min: 1 / 60, m: 1 / 60, h: 1 / 3600, hour: 1 / 3600, d: 1 / 86_400, day: 1 / 86_400 };
const MULTIPLIER: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6 };
const FORMAT_HINT = 'give a rate such as 50/s, 3000/min, 1.7M/day, or a day\'s profile such as 20/s:8h,200/s:16h';

function parseRate(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKM]?)(?:\/(s|sec|min|m|h|hour|d|day))?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag}: "${text}" is not a rate: ${FORMAT_HINT}`);
  const rate = Number(match[1]) * MULTIPLIER[match[2]!]! * PER_SECOND[match[3] ?? 's']!;
  if (!(rate > 0)) throw new UsageError(`${flag}: "${text}": the rate must be above 0`);
  if (rate > 1_000_000) throw new UsageError(`${flag}: "${text}": at most 1,000,000 requests/s per proxy`);
  return rate;
}

/** Parses `--rate` / `--traffic`; a profile's hours must make a day. */
export function parseTraffic(text: string, flag = '--rate'): Traffic {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new UsageError(`${flag}: empty: ${FORMAT_HINT}`);
  let segments: TrafficSegment[];
  if (parts.length === 1 && !parts[0]!.includes(':')) segments = [{ ratePerSecond: parseRate(parts[0]!, flag), hours: 24 }];
  else {
    segments = parts.map((part) => {
      const [rate, hours, ...rest] = part.split(':');
      const hoursMatch = /^(\d+(?:\.\d+)?)h$/.exec(hours?.trim() ?? '');
      if (rest.length > 0 || !hoursMatch) throw new UsageError(`${flag}: "${part}": a profile's part is RATE:HOURSh, e.g. 200/s:16h`);
      return { ratePerSecond: parseRate(rate!, flag), hours: Number(hoursMatch[1]) };
    });
    const total = segments.reduce((sum, segment) => sum + segment.hours, 0);
    if (Math.abs(total - 24) > 1e-9) throw new UsageError(`${flag}: the profile's hours add up to ${total}, not 24: give the whole day`);
  }
  const requestsPerDay = segments.reduce((sum, segment) => sum + segment.ratePerSecond * segment.hours * 3600, 0);
  return { text, segments, requestsPerDay, meanRatePerSecond: requestsPerDay / 86_400 };
}

/** "50 requests/s" or "a profile averaging 42 requests/s", for sentences. */
export function trafficText(traffic: Traffic): string {
  const rate = (perSecond: number) => `${formatRate(perSecond)} requests/s`;
  return traffic.segments.length === 1 ? rate(traffic.segments[0]!.ratePerSecond)
    : `${traffic.segments.map((segment) => `${formatRate(segment.ratePerSecond)}/s for ${segment.hours} h`).join(', ')} (${Math.round(traffic.requestsPerDay).toLocaleString('en-US')} a day)`;
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? String(Math.round(perSecond)) : perSecond >= 1 ? String(Math.round(perSecond * 10) / 10) : perSecond.toPrecision(2);
}

/** A setting that holds a traffic (a sweep's or a gate's `traffic`), checked as parseTraffic reads it. */
export const trafficSetting = z.string().superRefine((text, ctx) => {
  try {
    parseTraffic(text, 'traffic');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^traffic: /, '') });
  }
});
