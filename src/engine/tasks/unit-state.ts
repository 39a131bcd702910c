/** What the service helpers need to know about a systemd unit, as `systemctl show` prints it. */
import type { RemoteHost } from '../../ssh/types.js';

/** The properties read, in one `systemctl show` for any number of units. */
export const UNIT_PROPERTIES = 'Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload';

export interface UnitState {
  loadState: string;
  activeState: string;
  unitFileState: string;
  needDaemonReload: boolean;
}

/** `etcd` → `etcd.service`; names with a unit suffix are kept. */
export function unitName(unit: string): string {
  return /\.(service|socket|timer|target|mount|path|slice|scope)$/.test(unit) ? unit : `${unit}.service`;
}

/** One block of `systemctl show` output (KEY=VALUE lines). */
export function parseUnitState(text: string): UnitState {
  const props = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return {
    loadState: props.get('LoadState') ?? '',
    activeState: props.get('ActiveState') ?? '',
    unitFileState: props.get('UnitFileState') ?? '',
    needDaemonReload: props.get('NeedDaemonReload') === 'yes',
  };
}

/** One command for everything the service helpers need to know about a unit. */
export async function unitState(host: RemoteHost, unit: string): Promise<UnitState> {
  const result = await host.run(['systemctl', 'show', `--property=${UNIT_PROPERTIES}`, '--', unit]);
  return parseUnitState(result.stdout);
}
