/** The run events of one type, typed, from a list of events (e.g. a `--json` run's output). */
import type { RunEvent } from '../../src/engine/events.js';

export const eventsOf = <T extends RunEvent['type']>(events: readonly RunEvent[], type: T): Extract<RunEvent, { type: T }>[] =>
  events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);

/** The events of a `--json` run from its stdout (one JSON object per line; other lines skipped). */
export const parseRunEvents = (stdout: string): RunEvent[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as RunEvent);

/** Each failed host's step, error and output, then stderr: for an assertion's message. */
export const hostFailures = (r: { events: RunEvent[]; stderr: string }): string =>
  eventsOf(r.events, 'host:finish')
    .filter((e) => e.error)
    .map((e) => `${e.host}: ${e.step}: ${e.error!.message}\n  ${(e.error!.output ?? []).join('\n  ')}`)
    .join('\n') + `\n${r.stderr}`;
