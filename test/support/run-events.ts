/** The run events of one type, typed, from a list of events (e.g. a `--json` run's output). */
import type { RunEvent } from '../../src/engine/events.js';

export const eventsOf = <T extends RunEvent['type']>(events: readonly RunEvent[], type: T): Extract<RunEvent, { type: T }>[] =>
  events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);
