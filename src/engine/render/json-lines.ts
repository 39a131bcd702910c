/** `--json`: every event as one JSON object per line, nothing else on stdout. */
import type { EventSink } from '../events.js';
import type { Renderer } from './renderer.js';

export function jsonLinesRenderer(out: (line: string) => void): Renderer {
  const sink: EventSink = (event) => out(JSON.stringify(event));
  return { sink, done: async () => undefined };
}
