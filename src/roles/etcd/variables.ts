/** The etcd role's variables. */
import { declareVariables } from '../../inventory/variables.js';
import { absolutePath, imageRepo, imageTag, int, oneOf, optional, release, text } from '../../inventory/value-types.js';

export const ETCD_VARIABLES = declareVariables({
  etcd_member_name: {
    schema: text('an etcd member name').regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an etcd member name (letters, digits, ".", "-", "_")'),
    default: '{{ inventory_hostname }}',
    identity: true,
  },
  etcd_version: { schema: release('an etcd v3 release such as v3.2.24', /^v?3\.\d+\.\d+$/, true), default: 'v3.2.24', scope: 'etcd' },
  etcd_deployment_type: { schema: oneOf(['host', 'static_pod'] as const), default: 'host', scope: 'etcd' },
  // The image of static-pod mode (Kubespray's names and defaults).
  etcd_image_repo: { schema: imageRepo('quay.io/coreos/etcd'), default: 'quay.io/coreos/etcd', scope: 'etcd' },
  etcd_image_tag: { schema: imageTag, default: '{{ etcd_version }}', scope: 'etcd' },
  etcd_cert_dir: { schema: absolutePath, default: '/etc/ssl/etcd/ssl' },
  etcd_data_dir: { schema: absolutePath, default: '/var/lib/etcd' },
  // Snapshots on each member by a systemd timer: OnCalendar syntax (daily, hourly, *-*-* 03:00:00).
  etcd_backup_schedule: {
    schema: optional(text('a systemd OnCalendar schedule such as daily or *-*-* 03:00:00').regex(/^[A-Za-z0-9*:,./~ -]+$/, 'a systemd OnCalendar schedule such as daily or *-*-* 03:00:00')),
    scope: 'etcd',
  },
  etcd_backup_keep: { schema: int('a number of snapshots (1-1000)', 1, 1000), default: 7, scope: 'etcd' },
});
