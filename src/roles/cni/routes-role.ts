/**
 * The `pod-routes` role: only the routes part of the `cni` role (a route to every other node's
 * pod CIDR, and the unit that restores them at boot). scale.yml runs it on every node, beyond
 * --limit, so that the nodes already in the cluster learn the routes to a new node's pods and
 * nothing else of theirs is read, rewritten or restarted.
 */
import type { ClusterRole } from '../../cluster/run.js';
import { podRouteTasks, renderRoutesUnit } from './index.js';

export const podRoutesRole: ClusterRole = {
  name: 'pod-routes',
  tags: ['cni', 'network'],
  validate(ctx) {
    for (const h of ctx.hosts) renderRoutesUnit(ctx, h.name);
  },
  tasks(ctx) {
    return podRouteTasks(ctx, renderRoutesUnit(ctx, ctx.host.name));
  },
};
