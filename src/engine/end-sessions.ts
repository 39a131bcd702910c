/**
 * The end of a run, whatever ended it: each host's lock released (bounded, so a host that stopped
 * answering cannot hold the run), then every connection closed. Failures are warnings: the run's
 * outcome is already decided.
 */
import { describeFailure } from './errors.js';
import type { EventBody } from './events.js';
import type { Connector } from './executor.js';
import { HOST_LOCK_DIR } from './host-lock.js';
import type { HostSession } from './host-session.js';

export async function endSessions(connector: Connector, sessions: Map<string, HostSession>, emit: (b: EventBody) => void): Promise<void> {
  await releaseHostLocks(sessions, emit);
  await closeConnections(connector, sessions, emit);
}

/** Bound on releasing one host's lock at the end (a host that stopped answering must not hold the run). */
const RELEASE_TIMEOUT_MS = 10_000;

async function releaseHostLocks(sessions: Map<string, HostSession>, emit: (b: EventBody) => void): Promise<void> {
  await Promise.all(
    [...sessions.values()].map(async (s) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${RELEASE_TIMEOUT_MS / 1000} s`)), RELEASE_TIMEOUT_MS);
      });
      try {
        await Promise.race([s.releaseLock(), timeout]);
      } catch (err) {
        emit({
          type: 'warning',
          host: s.host.name,
          message: `could not release ${HOST_LOCK_DIR}: ${describeFailure(err).message}; the next run takes it over once it knows this run is gone (or remove it on the host)`,
        });
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

async function closeConnections(connector: Connector, sessions: Map<string, HostSession>, emit: (b: EventBody) => void): Promise<void> {
  try {
    if (connector.closeAll) await connector.closeAll();
    else await Promise.all([...sessions.values()].map((s) => s.close()));
  } catch (err) {
    emit({ type: 'warning', message: `closing connections: ${describeFailure(err).message}` });
  }
}

