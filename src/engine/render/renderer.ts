import type { EventSink } from '../events.js';

/** Turns events into output; `done` resolves once everything is written. */
export interface Renderer {
  sink: EventSink;
  done(): Promise<void>;
}
