/** remove-node.yml's variables, Kubespray's names and defaults. */
import { z } from 'zod';
import { declareVariables } from '../../inventory/variables.js';
import { bool, int, list, optional, text } from '../../inventory/value-types.js';

const hostNames = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  list(text('a host name'), 'host names: node5 or node4,node5'),
);

export const REMOVE_NODE_VARIABLES = declareVariables({
  // The hosts remove-node.yml takes out of the cluster (-e node=node4,node5).
  node: { schema: optional(hostNames), scope: 'cluster' },
  // yes: remove-node.yml goes on without asking (the same as --yes).
  delete_nodes_confirmation: { schema: bool, default: false },
  // Seconds each evicted pod may take to stop (kubectl drain --grace-period).
  drain_grace_period: { schema: int('a number of seconds (0-3600)', 0, 3600), default: 300, scope: 'cluster' },
  // How long draining one node may take in all (kubectl drain --timeout), a Go duration.
  drain_timeout: { schema: text('a duration such as 360s').regex(/^\d+(?:ms|s|m|h)$/, 'a duration such as 360s'), default: '360s', scope: 'cluster' },
});
