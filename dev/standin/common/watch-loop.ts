/**
 * How the stand-in controllers and the scheduler run while they lead: one round at a time of their
 * `sync` (list what they need, compare, write), started when a watch on their resources reports a
 * change, and at least once per resync period, as v1.13's informers drive the real ones. The
 * watches behave like client-go's reflector: each ends after a random 5–10 min and is opened again
 * from the last resourceVersion it delivered, so nothing is missed and nothing listed again; only
 * a watch that failed or was told its version is gone (410) starts from the current objects,
 * with a round. Events during a round ask for one more round; a failed round is retried after
 * RETRY_MS.
 */
import type { ApiClient } from './client.js';
import { messageOf } from './errors.js';
import type { Logger } from './klog.js';

/** client-go's reflector: minWatchTimeout 5 min, each watch's timeout random in [5, 10) min. */
const MIN_WATCH_SECONDS = 300;
const RETRY_MS = 1000;

/** The scheduler's resync (it does not watch nodes, so it looks again at pending pods this often). */
export const SCHEDULER_RESYNC_MS = 30_000;

/**
 * kube-controller-manager's informers: --min-resync-period 12 h, each informer's period random in
 * [12, 24) h (ResyncPeriod in v1.13's controllermanager.go).
 */
export function controllerManagerResyncMs(): number {
  return Math.floor(12 * 3600 * 1000 * (1 + Math.random()));
}

export interface ControllerLoop {
  stop(): void;
}

export function runController(name: string, client: ApiClient, log: Logger, watchPaths: readonly string[], sync: () => Promise<void>, resyncMs: number): ControllerLoop {
  let stopped = false;
  let running = false;
  let again = false;
  let retry: NodeJS.Timeout | undefined;
  const resync = setInterval(() => void round(), resyncMs);
  const watches = new Set<{ stop(): void }>();

  const round = async (): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        try {
          await sync();
        } catch (err) {
          log.error(`${name} controller: ${messageOf(err)}; retrying`);
          if (!stopped && !retry) retry = setTimeout(() => ((retry = undefined), void round()), RETRY_MS);
        }
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };

  const watchLoop = async (path: string): Promise<void> => {
    const sep = path.includes('?') ? '&' : '?';
    // The last resourceVersion delivered ('' before the first watch and after a failed one).
    let resourceVersion = '';
    while (!stopped) {
      const timeoutSeconds = Math.floor(MIN_WATCH_SECONDS * (1 + Math.random()));
      const from = resourceVersion === '' ? '' : `&resourceVersion=${resourceVersion}`;
      let gone = false;
      const w = client.watch(`${path}${sep}watch=1&timeoutSeconds=${timeoutSeconds}${from}`, (event) => {
        const e = event as { type?: unknown; object?: { metadata?: { resourceVersion?: unknown } } };
        if (e.type === 'ERROR') {
          gone = true;
          return;
        }
        const rv = e.object?.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv !== '' && (resourceVersion === '' || Number(rv) > Number(resourceVersion))) resourceVersion = rv;
        void round();
      });
      watches.add(w);
      const failed = await w.done.then(
        () => false,
        (err: unknown) => {
          log.warning(`${name} controller: watch of ${path} ended: ${messageOf(err)}`);
          return true;
        },
      );
      watches.delete(w);
      if (stopped) return;
      if (failed || gone) {
        // Events may have been missed: start again from the current objects, and look at everything.
        resourceVersion = '';
        void round();
        if (failed) await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  };

  void round();
  for (const p of watchPaths) void watchLoop(p);
  return {
    stop() {
      stopped = true;
      clearInterval(resync);
      if (retry) clearTimeout(retry);
      for (const w of watches) w.stop();
    },
  };
}
