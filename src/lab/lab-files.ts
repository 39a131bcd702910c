/**
 * What `lab up` writes into the inventory beside the files `kprov init --hosts` makes: lab.json
 * (how to reach the lab), group_vars/all/lab.yml and the bootstrap password.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { readJsonFile } from './json-file.js';
import { LAB_MIRRORED_REGISTRIES } from './registry.js';

export const LAB_FILE = 'lab.json';
export const BOOTSTRAP_PASSWORD_FILE = path.join('credentials', 'bootstrap-password');

const labFileSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  bridgeAddress: z.string(),
  subnet: z.string(),
  mirrorUrl: z.string(),
  mirrorRoot: z.string(),
  /** Absent in labs made before the registry. */
  registryUrl: z.string().optional(),
  hosts: z.array(z.object({ name: z.string(), address: z.string(), machine: z.string() })),
});

export type LabFile = z.infer<typeof labFileSchema>;

export function labFilePath(inventoryDir: string): string {
  return path.join(inventoryDir, LAB_FILE);
}

/** lab.json of an inventory, or undefined when the inventory is not a lab's. */
export function readLabFile(inventoryDir: string): Promise<LabFile | undefined> {
  return readJsonFile(labFilePath(inventoryDir), labFileSchema, { code: 'config', what: 'lab.json' });
}

/** group_vars/all/lab.yml: how the lab's hosts are reached and where they download from. */
export function labGroupVars(lab: Pick<LabFile, 'mirrorUrl' | 'registryUrl'>): string {
  const text = `# Written by kprov lab up: the lab's hosts log in as root (first with the bootstrap password in
# credentials/bootstrap-password, then with the cluster key that key distribution installs).
ansible_user: root
# Every download comes from the lab's artifact mirror, laid out as upstream's trees
# (https://HOST/PATH is fetched from {files_repo}/HOST/PATH).
files_repo: ${lab.mirrorUrl.replace(/\/+$/, '')}
`;
  if (lab.registryUrl === undefined) return text;
  const registries = Object.fromEntries(LAB_MIRRORED_REGISTRIES.map((r) => [r, [lab.registryUrl]]));
  return `${text}# Every image comes from the lab's registry: containerd asks it for these upstream registries
# (k8s.gcr.io/pause:3.1 is pause:3.1 there). Lab hosts have no way out.
${stringify({ containerd_registries: registries })}# Nothing on this machine may lower an oom_score_adj (no CAP_SYS_RESOURCE): containerd's CRI
# keeps pod processes at or above its own, or pod sandboxes fail to start.
containerd_restrict_oom_score_adj: true
# kprov apply check runs its pods from the lab's workload image (busybox: httpd, wget, timeout).
check_image: docker.io/kprov/workload:1
# The node-local API proxy (clusters with several control-plane hosts) runs Debian's nginx or haproxy.
nginx_image_repo: docker.io/kprov/nginx
nginx_image_tag: debian12
haproxy_image_repo: docker.io/kprov/haproxy
haproxy_image_tag: debian12
`;
}

export async function writeLabFiles(inventoryDir: string, lab: LabFile, bootstrapPassword: string): Promise<void> {
  await writeFile(labFilePath(inventoryDir), `${JSON.stringify(lab, null, 2)}\n`);
  await mkdir(path.join(inventoryDir, 'group_vars', 'all'), { recursive: true });
  await writeFile(path.join(inventoryDir, 'group_vars', 'all', 'lab.yml'), labGroupVars(lab));
  const credentials = path.join(inventoryDir, 'credentials');
  await mkdir(credentials, { recursive: true, mode: 0o700 });
  await chmod(credentials, 0o700);
  const passwordFile = path.join(inventoryDir, BOOTSTRAP_PASSWORD_FILE);
  await writeFile(passwordFile, `${bootstrapPassword}\n`, { mode: 0o600 });
  await chmod(passwordFile, 0o600);
}
