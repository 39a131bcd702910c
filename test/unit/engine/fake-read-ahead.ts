/**
 * Teaches fake machines the engine's read-ahead (src/engine/prefetch.ts), and the host lock that
 * may wrap it (fake-host-lock.ts): the one command that
 * stats and hashes paths, shows units and runs probes is answered from the machine's state, the
 * way the script answers on a host, and recorded as a read. Probes are answered by the machine's
 * own commands and test script, so a probe means the same whether it is read ahead or run later.
 */
import { splitCommandLine } from '../../../src/cluster/flags.js';
import { PREFETCH_NAME, PREFETCH_SCRIPT } from '../../../src/engine/prefetch.js';
import { STAT_SCRIPT } from '../../../src/engine/tasks/remote-stat.js';
import { UNIT_PROPERTIES } from '../../../src/engine/tasks/unit-state.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import type { FakeFleet, FakeMachine } from '../../../dev/fake-fleet.js';
import { answerHostLock, isHostLock } from './fake-host-lock.js';

/** The read-ahead's argv (as recorded in FakeCall.argv). */
export function isReadAhead(argv: readonly string[] | undefined): boolean {
  return argv?.[0] === 'sh' && argv[2] === PREFETCH_SCRIPT && argv[3] === PREFETCH_NAME;
}

const installed = new WeakSet<FakeMachine>();

/** Every machine of the fleet answers the read-ahead (idempotent). */
export function answerReadAhead(fleet: FakeFleet): FakeFleet {
  for (const m of fleet.machines.values()) {
    if (installed.has(m)) continue;
    installed.add(m);
    const builtin = m.builtin.bind(m);
    const read: FakeMachine['builtin'] = (argv) => (isReadAhead(argv) ? { result: readAhead(argv.slice(4), m, builtin), mutating: false } : builtin(argv));
    // The host lock wraps the read (or runs on its own): answered here, then the read.
    m.builtin = (argv) =>
      isHostLock(argv)
        ? { result: answerHostLock(argv, m, (inner) => read(inner)?.result ?? { code: 127, stdout: '', stderr: `sh: 1: ${inner[0]}: not found` }), mutating: true }
        : read(argv);
  }
  return fleet;
}

type Builtin = FakeMachine['builtin'];

/** What the machine answers to argv, synchronously (a probe the test scripts asynchronously is not read ahead). */
function answer(argv: readonly string[], m: FakeMachine, builtin: Builtin): ExecResult | undefined {
  const known = builtin(argv);
  if (known) return known.result;
  const scripted = m.script?.(argv, m);
  if (scripted instanceof Promise) return undefined;
  return scripted ?? { code: 127, stdout: '', stderr: `sh: 1: ${argv[0]}: not found` };
}

function readAhead(args: readonly string[], m: FakeMachine, builtin: Builtin): ExecResult {
  let i = 0;
  const next = () => args[i++]!;
  const token = next();
  const frames: string[] = [];
  const commandCount = Number(next());
  for (let k = 0; k < commandCount; k++) {
    next(); // timeout
    const whenActive = next();
    const line = next();
    if (whenActive !== '' && builtin(['systemctl', 'is-active', '--', whenActive])?.result.code !== 0) continue;
    let argv = splitCommandLine(line);
    // env K=V … cmd: the fakes ignore the environment, as they do for exec's `env` option.
    if (argv[0] === 'env') {
      let j = 1;
      while (j < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[j]!)) j++;
      argv = argv.slice(j);
    }
    const r = answer(argv, m, builtin);
    if (r) frames.push(`@${token} C ${k} ${r.code}\n${r.stdout}\n@${token} E ${k}\n${r.stderr}\n@${token} Z ${k}`);
  }
  const head: string[] = [];
  const hashes: string[] = [];
  const pathCount = Number(next());
  for (let k = 0; k < pathCount; k++) {
    const p = next();
    const stat = builtin(['sh', '-c', STAT_SCRIPT, 'kprov-stat', p])!.result;
    if (stat.code === 3) {
      head.push(`M|${p}`);
      continue;
    }
    const [statLine = '', sha] = stat.stdout.trim().split('\n');
    head.push(`S|${statLine}|${p}`);
    if (sha) hashes.push(`H|${sha} *${p}`);
  }
  const unitCount = Number(next());
  const blocks: string[] = [];
  for (let k = 0; k < unitCount; k++) {
    const unit = next();
    const shown = builtin(['systemctl', 'show', `--property=${UNIT_PROPERTIES}`, '--', unit])!.result.stdout.trim();
    blocks.push([`Id=${unit}`, ...shown.split('\n')].map((l) => `U|${l}`).join('\n'));
  }
  const out = [...head, ...hashes, ...(blocks.length > 0 ? [blocks.join('\nU|\n')] : []), ...frames];
  return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
}
