/** A yes/no question on the terminal (asked on stderr, so --json output stays clean). */
import { createInterface } from 'node:readline/promises';

export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
