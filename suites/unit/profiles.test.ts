import { describe, expect, it } from 'vitest';
import { describeProfile, profileOf, PROFILES } from '../../src/scenario/profiles.js';

describe('profile descriptions', () => {
  it('every profile says what it models and what it cannot', () => {
    for (const profile of Object.values(PROFILES)) {
      expect(profile.models.length, profile.name).toBeGreaterThan(0);
      expect(profile.cannotModel.length, profile.name).toBeGreaterThan(0);
      expect(describeProfile(profile)).toMatch(new RegExp(`^${profile.name}: [^\\n]+\\n  models: `));
    }
  });

  it('a run\'s profile comes from its recorded settings', () => {
    expect(profileOf({ profile: 'alb' })?.name).toBe('alb');
    expect(profileOf({})).toBeNull();
    expect(profileOf(undefined)).toBeNull();
  });
});
