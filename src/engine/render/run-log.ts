/**
 * `<inventory>/runs/<UTC timestamp>-<run id>.jsonl`: every event of every run (plans too), one
 * JSON object per line, written synchronously so a crash still leaves the events up to it on disk.
 * One file per run: two runs started in the same second never write into the same file.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { EventSink } from '../events.js';

export interface RunLog {
  path: string;
  sink: EventSink;
  close(): void;
}

/** `2025-01-31T12-00-05Z-3f9a1c2b.jsonl`: sorts by time, valid in file names everywhere. */
export function runLogName(time: Date, runId: string): string {
  return `${time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-')}-${runId}.jsonl`;
}

export function openRunLog(inventoryDir: string, time: Date, runId: string): RunLog {
  const dir = path.join(inventoryDir, 'runs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // 'wx': a run never appends to another run's log.
  const file = path.join(dir, runLogName(time, runId));
  const fd = openSync(file, 'wx', 0o600);
  let open = true;
  return {
    path: file,
    sink: (event) => {
      if (open) writeSync(fd, `${JSON.stringify(event)}\n`);
    },
    close: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
