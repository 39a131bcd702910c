/**
 * `<inventory>/runs/<UTC timestamp>.jsonl`: every event of every run (plans too), one JSON object
 * per line, written synchronously so a crash still leaves the events up to it on disk.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { EventSink } from '../events.js';

export interface RunLog {
  path: string;
  sink: EventSink;
  close(): void;
}

/** `2025-01-31T12-00-05Z`: sortable, and valid in file names everywhere. */
export function runLogName(time: Date): string {
  return `${time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-')}.jsonl`;
}

export function openRunLog(inventoryDir: string, time: Date): RunLog {
  const dir = path.join(inventoryDir, 'runs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Two runs in the same second append to the same file: 'a' keeps both, one after the other.
  const file = path.join(dir, runLogName(time));
  const fd = openSync(file, 'a', 0o600);
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
