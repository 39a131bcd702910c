/**
 * What every cluster role shares within one run: the loaded inventory, and the topology derived
 * from it once. Roles reach them through the engine's SharedValues.
 */
import { KprovError } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import type { SharedValues } from '../roles/types.js';
import { buildTopology, type Topology } from './topology.js';

declare module '../roles/types.js' {
  interface SharedValues {
    /** The whole inventory, variables included (set by `kprov apply`). */
    inventory?: Inventory;
  }
}

const topologies = new WeakMap<Inventory, Topology>();

export function inventoryOf(shared: SharedValues): Inventory {
  if (!shared.inventory) throw new KprovError('internal', 'this role needs the inventory, which the run did not provide');
  return shared.inventory;
}

/** The cluster's topology, computed on first use and kept for the run. */
export function topologyOf(shared: SharedValues): Topology {
  const inventory = inventoryOf(shared);
  let topology = topologies.get(inventory);
  if (!topology) {
    topology = buildTopology(inventory);
    topologies.set(inventory, topology);
  }
  return topology;
}
