/**
 * How the stand-in controllers and the scheduler run while they lead: one round at a time of their
 * `sync` (list what they need, compare, write), started when a watch on their resources reports a
 * change and at least every RESYNC_SECONDS (each watch ends then and is opened again), as v1.13's
 * informers with their resync period drive the real ones. Events during a round ask for one more
 * round; a failed round is retried after RETRY_MS.
 */
import type { ApiClient } from './client.js';
import { messageOf } from './errors.js';
import type { Logger } from './klog.js';

const RESYNC_SECONDS = 30;
const RETRY_MS = 1000;

export interface ControllerLoop {
  stop(): void;
}

export function runController(name: string, client: ApiClient, log: Logger, watchPaths: readonly string[], sync: () => Promise<void>): ControllerLoop {
  let stopped = false;
  let running = false;
  let again = false;
  let retry: NodeJS.Timeout | undefined;
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
    while (!stopped) {
      const w = client.watch(`${path}${sep}watch=1&timeoutSeconds=${RESYNC_SECONDS}`, () => void round());
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
      // A resync: the watch ended at its timeout (or failed); look at everything once more.
      void round();
      if (failed) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  };

  void round();
  for (const p of watchPaths) void watchLoop(p);
  return {
    stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      for (const w of watches) w.stop();
    },
  };
}
