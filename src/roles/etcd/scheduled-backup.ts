/**
 * etcd_backup_schedule: a systemd timer on every etcd member that saves a snapshot with the
 * member's etcdctl and keeps the newest etcd_backup_keep in SCHEDULED_BACKUP_DIR (0700), each
 * with its sha256. Unset, any timer an earlier run installed is stopped and removed.
 * (`kprov etcd backup` copies a snapshot to the control host on demand; this one stays local.)
 */
import path from 'node:path';
import type { Change } from '../../engine/contract.js';
import { statOf } from '../../engine/read-cache.js';
import { file, restartHandler, service } from '../../engine/tasks/index.js';
import { shScript } from '../../ssh/quote.js';
import type { ClusterHandler, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import type { EtcdTlsFiles } from './config.js';

export const SCHEDULED_BACKUP_DIR = '/var/lib/kprov/scheduled-backups';
export const BACKUP_SERVICE = 'kprov-etcd-backup.service';
export const BACKUP_TIMER = 'kprov-etcd-backup.timer';
export const BACKUP_SCRIPT_NAME = 'kprov-etcd-backup';
const RESTART_TIMER = 'restart etcd backup timer';

const unitPath = (unit: string) => `/etc/systemd/system/${unit}`;

/** A changed schedule takes effect when the timer restarts. */
export const backupTimerHandler: ClusterHandler = restartHandler({ name: RESTART_TIMER, unit: BACKUP_TIMER });

const REMOVE_SCRIPT = `systemctl disable --now ${BACKUP_TIMER} >/dev/null 2>&1 || true
rm -f -- "$@"
systemctl daemon-reload`;

/** Unscheduled: the timer, its service and script are removed when an earlier run left them. */
function removeSchedule(files: readonly string[]): ClusterTask {
  return {
    name: 'no scheduled etcd snapshots (etcd_backup_schedule unset)',
    // Read ahead with the play's other reads: an unchanged run costs no command here.
    reads: () => ({ paths: files }),
    async check(host, ctx) {
      const present: Change[] = [];
      for (const p of files) if (await statOf(host, p, ctx)) present.push({ kind: 'file', path: p, summary: `remove ${p}` });
      return present;
    },
    async apply(host) {
      await host.run(shScript(REMOVE_SCRIPT, files, 'kprov-etcd-backup'));
    },
  };
}

export function scheduledBackupTasks(ctx: ClusterTaskContext, etcdctlBin: string, tls: EtcdTlsFiles): ClusterTask[] {
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  const script = path.posix.join(vars.bin_dir, BACKUP_SCRIPT_NAME);
  const files = [unitPath(BACKUP_TIMER), unitPath(BACKUP_SERVICE), script];
  const schedule = vars.etcd_backup_schedule;
  if (schedule === undefined) return [removeSchedule(files)];
  const notify = [RESTART_TIMER];
  return [
    file({
      path: script,
      mode: 0o755,
      content: ctx.render('etcd/kprov-etcd-backup.sh.j2', { backup_dir: SCHEDULED_BACKUP_DIR, keep: vars.etcd_backup_keep, etcdctl: etcdctlBin, ca: tls.ca, cert: tls.clientCert, key: tls.clientKey }),
    }),
    file({ path: unitPath(BACKUP_SERVICE), mode: 0o644, content: ctx.render('etcd/kprov-etcd-backup.service.j2', { script }) }),
    file({ path: unitPath(BACKUP_TIMER), mode: 0o644, content: ctx.render('etcd/kprov-etcd-backup.timer.j2', { schedule }), notify }),
    service({ unit: BACKUP_TIMER, wait: false }),
  ];
}
