// `keepalive-lab profiles`: the load-balancer profiles, with what each models and cannot.
import { Command } from 'commander';
import { describeProfile, PROFILES } from '../scenario/profiles.js';

export function profilesCommand(): Command {
  return new Command('profiles')
    .description('list the load-balancer profiles (sweep --profile NAME): what each presets, models and cannot model')
    .action(() => {
      for (const profile of Object.values(PROFILES)) {
        process.stdout.write(`${describeProfile(profile)}\n  presets: ${JSON.stringify(profile.settings)}\n\n`);
      }
    });
}
