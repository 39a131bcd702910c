import type { Command } from 'commander';
import type { CliIO } from './io.js';

export function registerApply(_program: Command, _io: CliIO): void {
  // Not yet implemented.
}
