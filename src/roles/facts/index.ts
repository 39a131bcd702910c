/**
 * The `facts` role: reads every host's facts early (one round trip, kept for the run) so a host
 * kprov cannot work with fails here, with a clear reason, before anything is changed.
 */
import { KprovError } from '../../errors.js';
import type { ClusterRole, ClusterTask } from '../../cluster/run.js';

const readFacts: ClusterTask = {
  name: 'read host facts',
  async check(host, ctx) {
    const facts = await ctx.facts();
    if (facts.systemdVersion === undefined) {
      throw new KprovError('host', 'systemctl not found: kprov runs every service as a systemd unit', {
        host: host.name,
        hint: 'use a distribution that boots with systemd (Debian, Ubuntu, CentOS/RHEL 7+)',
      });
    }
    if (facts.defaultIPv4 === undefined && ctx.host.ip === undefined) {
      ctx.warn('no default IPv4 route and no `ip` set: cannot tell which address cluster services should use');
    }
    return [];
  },
  async apply() {
    // check never reports changes: reading facts changes nothing.
  },
};

export const factsRole: ClusterRole = {
  name: 'facts',
  tags: ['facts', 'always'],
  tasks: () => [readFacts],
};
