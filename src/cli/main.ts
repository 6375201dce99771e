#!/usr/bin/env node
// The keepalive-lab command: a thin layer over the library. Bad input is one line and exit 2;
// a run that fails is one line and exit 1; both after everything started has been stopped.
import { Command, CommanderError } from 'commander';
import { cleanupAll } from '../util/cleanup.js';
import { UsageError } from '../util/errors.js';
import { explainCommand } from './explain-command.js';
import { probeCommand } from './probe-command.js';
import { reportCommand } from './report-command.js';
import { sweepCommand } from './sweep-command.js';
import { gateCommand } from './gate-command.js';
import { profilesCommand } from './profiles-command.js';
import { toxiproxyCommand } from './toxiproxy-command.js';
import { soakCommand } from './soak-command.js';
import { fieldCommand } from './field-command.js';
import { mergeCommand } from './merge-command.js';
import { predictCommand } from './predict-command.js';
import { forTerminal } from '../util/terminal-text.js';
import { HARNESS_VERSION } from '../util/machine.js';


/** commander's message as one line: its suggestion ("(Did you mean --blocks?)") joins the line
 *  instead of following it, since bad input is one line. */
const oneLine = (text: string) => `keepalive-lab: ${text.replace(/^error: /, '').replace(/\s*\n(?!$)/g, ' ')}`;

const program = new Command('keepalive-lab')
  .version(HARNESS_VERSION, '-V, --version', 'print the version of keepalive-lab')
  .description('measure the keep-alive race between a proxy and its upstream (502s at the idle-timeout boundary)')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(oneLine(text)) })
  .addCommand(sweepCommand())
  .addCommand(probeCommand())
  .addCommand(reportCommand())
  .addCommand(explainCommand())
  .addCommand(toxiproxyCommand())
  .addCommand(profilesCommand())
  .addCommand(gateCommand())
  .addCommand(soakCommand())
  .addCommand(fieldCommand())
  .addCommand(mergeCommand())
  .addCommand(predictCommand());
for (const command of program.commands) {
  command.exitOverride().configureOutput({ outputError: (text, write) => write(oneLine(text)) });
}

// A reader that went away (`keepalive-lab profiles | head -1`): stop what was started and end
// as a C tool killed by SIGPIPE would (status 141), without a word: nobody is there to read it.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  void cleanupAll().finally(() => process.exit(141));
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  await cleanupAll();
  if (error instanceof CommanderError) {
    // commander has printed its one-line message already; help and version are not errors.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof UsageError) {
    process.stderr.write(`keepalive-lab: ${forTerminal(error.message)}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`keepalive-lab: ${forTerminal((error as Error).message)}\n`);
    process.exitCode = 1;
  }
}
