/**
 * Teaches fake machines the host lock's script (src/engine/host-lock.ts), answered from
 * `FakeMachine.hostLock` the way the script answers on a host; a wrapped command (the read-ahead)
 * is then answered by the machine as usual.
 */
import { HOST_LOCK_NAME, HOST_LOCK_SCRIPT } from '../../../src/engine/host-lock.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import type { FakeMachine } from '../../../dev/fake-fleet.js';

export function isHostLock(argv: readonly string[] | undefined): boolean {
  return argv?.[0] === 'sh' && argv[2] === HOST_LOCK_SCRIPT && argv[3] === HOST_LOCK_NAME;
}

/** The mode of a host-lock command (`take`, `refresh`, `takeover`, `release`). */
export function hostLockMode(argv: readonly string[]): string {
  return argv[4] ?? '';
}

type Answer = (argv: readonly string[]) => ExecResult;

export function answerHostLock(argv: readonly string[], m: FakeMachine, inner: Answer): ExecResult {
  const [mode = '', , id = '', rec = '', expect = ''] = argv.slice(4, 9);
  const rest = argv.slice(9);
  const ours = () => m.hostLock?.owner.includes(`"runId":"${id}"`) === true;
  const held = (): ExecResult => ({ code: 75, stdout: `kprov-lock held ${m.hostLock?.ageSeconds ?? 0} ${m.hostLock?.owner ?? ''}\n`, stderr: '' });
  let line: string;
  switch (mode) {
    case 'take':
      if (!m.hostLock) m.hostLock = { owner: rec, ageSeconds: 0 };
      else if (!ours()) return held();
      line = 'kprov-lock taken';
      break;
    case 'refresh':
      if (!ours()) return { code: 75, stdout: `kprov-lock lost ${m.hostLock?.owner ?? ''}\n`, stderr: '' };
      m.hostLock!.ageSeconds = 0;
      line = 'kprov-lock taken';
      break;
    case 'takeover':
      if (m.hostLock && m.hostLock.owner !== expect) return held();
      m.hostLock = { owner: rec, ageSeconds: 0 };
      line = 'kprov-lock taken';
      break;
    case 'release':
      if (ours()) m.hostLock = undefined;
      line = 'kprov-lock released';
      break;
    default:
      return { code: 2, stdout: '', stderr: `unknown mode ${mode}` };
  }
  if (rest.length === 0) return { code: 0, stdout: `${line}\n`, stderr: '' };
  const r = inner(rest);
  return { ...r, stdout: `${line}\n${r.stdout}` };
}
