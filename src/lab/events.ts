/** What lab operations report as they go; only the CLI turns these into lines of text. */
import type { BaseImageEvent } from './base-image.js';
import type { RegistryBinaryEvent } from './registry-binary.js';

export type LabEvent =
  | BaseImageEvent
  | RegistryBinaryEvent
  | { type: 'network'; namespace: string }
  | { type: 'mirror'; url: string; root: string }
  | { type: 'registry'; url: string }
  | { type: 'host-started'; host: string; machine: string; address: string }
  | { type: 'host-ssh'; host: string; address: string; ms: number }
  | { type: 'host-ready'; host: string; state: string; ms: number }
  | { type: 'inventory'; dir: string }
  /** The versions the inventory was pinned to (from the mirror's kprov-release.json), or none. */
  | { type: 'release'; pins: Readonly<Record<string, string>> | undefined; mirrorRoot: string }
  | { type: 'cleanup'; reason: string }
  | { type: 'host-stopped'; host: string; outcome: string }
  | { type: 'removed'; what: string };

export type LabEventSink = (event: LabEvent) => void;
