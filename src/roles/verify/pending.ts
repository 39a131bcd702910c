/**
 * No service runs on files older than the ones kprov wrote: a handler an interrupted run left
 * owed (the engine's record on the host, src/engine/pending.ts) means a service still runs with
 * the configuration it read before its files changed. Verification must not call that converged,
 * so it fails, naming the unit, the files and when they changed. Waiting cannot fix it (only the
 * handler can), so it looks once; the listing is read ahead with the host's other probes.
 */
import { parsePendingList, pendingListProbe, PENDING_DIR, type ListedRecord } from '../../engine/pending.js';
import { probe } from '../../engine/read-cache.js';
import type { ClusterTask } from '../../cluster/run.js';
import { outcome, outputTail } from './tools.js';
import { HEALTHY, unhealthy, verification } from './verification.js';
import { VERIFY_TIMEOUTS } from './checks.js';

const at = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** `kube-apiserver.service runs with configuration older than its files: … changed at …, "restart kube-apiserver" has not run since`. */
export function describeOwed(record: ListedRecord): string {
  const who = record.unit ?? `the service of handler "${record.handler}"`;
  const files = record.changed.length > 0 ? record.changed.join(', ') : 'its files';
  const when = record.since !== undefined ? ` at ${at(record.since)}` : '';
  return `${who} runs with configuration older than its files: ${files} changed${when} and "${record.handler}" has not run since (left pending by an interrupted run)`;
}

export function servicesRunCurrentFiles(): ClusterTask {
  const command = pendingListProbe();
  return verification({
    name: 'every service runs with its current files',
    reads: [command],
    timeoutMs: 0,
    intervalMs: VERIFY_TIMEOUTS.intervalMs,
    units: [],
    hint: 'kprov apply cluster runs the pending handlers (control-plane restarts one host at a time)',
    async probe(host, ctx) {
      const r = await probe(host, command, ctx);
      if (r.code !== 0) return unhealthy(`listing ${PENDING_DIR} ${outcome(r)}`, [], outputTail(r));
      const owed = parsePendingList(r.stdout);
      if (owed.length === 0) return HEALTHY;
      return unhealthy(owed.map(describeOwed).join('; '), owed.flatMap((o) => (o.unit !== undefined ? [o.unit] : [])));
    },
  });
}
