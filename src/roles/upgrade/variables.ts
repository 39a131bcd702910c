/** upgrade-cluster.yml's variables, Kubespray's names and defaults. */
import { z } from 'zod';
import { declareVariables } from '../../inventory/variables.js';
import { bool, int } from '../../inventory/value-types.js';

export const UPGRADE_VARIABLES = declareVariables({
  // Workers upgraded at once (the worker play's `serial`): a count or a percentage (-e serial=2).
  serial: {
    schema: z.union([z.number().int().positive(), z.string().regex(/^(?:[1-9][0-9]*|(?:100|[1-9][0-9]?)%)$/, 'a host count such as 2 or a percentage such as 30%')]),
    default: 1,
    scope: 'cluster',
  },
  // Cordon and drain each node before its kubelet is replaced, uncordon it after (Kubespray's drain_nodes).
  drain_nodes: { schema: bool, default: true, scope: 'cluster' },
  // Kubespray asks before each node with these; kprov refuses them with a hint (see the upgrade roles).
  upgrade_node_confirm: { schema: bool, default: false, scope: 'cluster' },
  upgrade_node_pause_seconds: { schema: int('a number of seconds (0-86400)', 0, 86400), default: 0, scope: 'cluster' },
});
