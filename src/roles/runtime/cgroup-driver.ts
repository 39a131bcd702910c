/**
 * The cgroup driver shared by containerd (runc's SystemdCgroup) and the kubelet (cgroupDriver):
 * they must agree, or pods fail to start. systemd, because systemd already manages the host's
 * cgroups and two managers of one tree fight under memory pressure (Kubernetes' own advice).
 */
export const CGROUP_DRIVER: 'systemd' | 'cgroupfs' = 'systemd';
