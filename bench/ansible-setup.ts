/**
 * What the Ansible peer benchmark needs besides a lab: Debian's ansible-core on this machine,
 * python3 on the lab hosts (Ansible's modules run in Python; kprov needs none), and an Ansible
 * project doing what kprov's etcd role does (src/roles/etcd/) with the same files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { runCommand } from '../dev/run-command.js';
import { fetchDeb } from '../dev/release/debs.js';
import type { ClusterLab } from '../dev/cluster-lab.js';
import { createClusterRun } from '../src/cluster/run.js';
import { loadInventory } from '../src/inventory/load.js';
import { readLabState } from '../src/lab/state.js';
import { packageRoot } from '../src/paths.js';
import { clusterKeyPath } from '../src/ssh/cluster-key.js';
import { knownHostsPath } from '../src/ssh/connector.js';
import { ETCD_CLUSTER_TOKEN, ETCD_ENV_FILE, etcdTlsFiles } from '../src/roles/etcd/config.js';

function onPath(command: string): boolean {
  return runSync('sh', ['-c', `command -v ${command}`]) === 0;
}

function runSync(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  try {
    execFileSync(command, args, { stdio: 'ignore', env });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? 1;
  }
}

/** ansible-playbook from Debian's ansible-core, installed with apt as scripts/test.sh installs its packages. */
export function ensureAnsible(): void {
  if (onPath('ansible-playbook')) return;
  console.log('installing Debian package ansible-core');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (runSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible-core'], env) !== 0) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible-core'], { stdio: 'inherit', env });
  }
}

/**
 * python3 on every lab host from Debian packages. The hosts have no route out, so the .debs are
 * fetched on this machine (apt-get download, cached like the lab release's packages) and put into
 * each host's root; which ones is what apt would install there, asked against the host's own
 * dpkg status.
 */
export async function ensurePythonOnHosts(lab: ClusterLab, cacheDir: string): Promise<void> {
  const state = await readLabState(lab.name);
  if (!state) throw new Error(`lab ${lab.name} has no state`);
  for (const host of state.hosts) {
    if ((await lab.exec(host.name, ['test', '-x', '/usr/bin/python3'])).code === 0) continue;
    const sim = await runCommand(['apt-get', '-s', '-o', `Dir::State::status=${path.join(host.root, 'var/lib/dpkg/status')}`, 'install', '--no-install-recommends', 'python3']);
    if (sim.code !== 0) throw new Error(`apt-get -s install python3 for ${host.name}: ${sim.stderr}`);
    const wanted = [...sim.stdout.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) /gm)].map((m) => ({ name: m[1]!, version: m[2]! }));
    const debs = await Promise.all(wanted.map((p) => fetchDeb(cacheDir, p.name, p.version)));
    const inHost = '/var/tmp/kprov-bench-debs';
    const dir = path.join(host.root, inHost);
    await mkdir(dir, { recursive: true });
    for (const deb of debs) await cp(deb, path.join(dir, path.basename(deb)));
    // One package at a time in apt's order: one dpkg -i of them all configures only at its end, and
    // python3 pre-depends on python3-minimal, which pre-depends on python3.11-minimal. A package
    // whose plain dependency comes later stays unpacked until the final --configure.
    const files = debs.map((d) => `${inHost}/${path.basename(d)}`).join(' ');
    const script = `for f in ${files}; do dpkg -i "$f" || true; done; dpkg --configure -a && /usr/bin/python3 -c 1 && rm -rf ${inHost}`;
    const r = await lab.exec(host.name, ['sh', '-c', script], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`${host.name}: dpkg -i python3: ${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`);
    console.log(`${host.name}: python3 installed (${debs.length} packages)`);
  }
}

const PLAYBOOK = `# The steps of kprov's etcd role (src/roles/etcd/index.ts), one Ansible task each.
- name: etcd
  hosts: etcd
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: is etcd running already (a restart is owed only then)
      command: systemctl is-active etcd.service
      register: etcd_was_active
      changed_when: false
      failed_when: false

    - name: etcd binary
      copy: { src: files/etcd, dest: "{{ bin_dir }}/etcd", mode: "0755", owner: root, group: root }
      notify: restart etcd

    - name: etcdctl binary
      copy: { src: files/etcdctl, dest: "{{ bin_dir }}/etcdctl", mode: "0755", owner: root, group: root }

    - name: certificate directories
      file: { path: "{{ item }}", state: directory, mode: "0755", owner: root, group: root }
      loop: "{{ pki_files | map(attribute='dest') | map('dirname') | unique | list }}"

    - name: certificates and keys from kprov's PKI
      copy: { src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}", owner: root, group: root }
      loop: "{{ pki_files }}"
      loop_control: { label: "{{ item.dest }}" }
      notify: restart etcd

    - name: data directory
      file: { path: "{{ data_dir }}", state: directory, mode: "0700", owner: root, group: root }

    - name: does the member have data
      stat: { path: "{{ data_dir }}/member" }
      register: etcd_data

    - name: does a cluster answer (member list on the other members)
      command: >-
        {{ bin_dir }}/etcdctl --endpoints={{ other_client_urls }} --cacert={{ tls.ca }} --cert={{ tls.clientCert }}
        --key={{ tls.clientKey }} --dial-timeout=2s --command-timeout=2s member list --write-out=json
      environment: { ETCDCTL_API: "3" }
      register: etcd_members
      when: not etcd_data.stat.exists
      changed_when: false
      failed_when: false

    - name: environment file
      template: { src: etcd.env.j2, dest: "${ETCD_ENV_FILE}", mode: "0640", owner: root, group: root }
      vars:
        initial_cluster_state: "{{ 'existing' if (etcd_members.rc | default(1)) == 0 else 'new' }}"
      notify: restart etcd

    - name: systemd unit
      template: { src: etcd.service.j2, dest: /etc/systemd/system/etcd.service, mode: "0644", owner: root, group: root }
      notify: restart etcd

    - name: start etcd.service
      systemd: { name: etcd.service, state: started, enabled: true, daemon_reload: true, no_block: true }

    - name: wait until the etcd member is healthy
      command: >-
        {{ bin_dir }}/etcdctl --endpoints=https://127.0.0.1:2379 --cacert={{ tls.ca }} --cert={{ tls.clientCert }}
        --key={{ tls.clientKey }} --dial-timeout=2s --command-timeout=5s endpoint health
      environment: { ETCDCTL_API: "3" }
      register: etcd_health
      until: etcd_health.rc == 0
      retries: 120
      delay: 1
      changed_when: false

  handlers:
    - name: restart etcd
      systemd: { name: etcd.service, state: restarted, daemon_reload: true }
      when: etcd_was_active.rc == 0
      throttle: 1
`;

export interface AnsibleProject {
  dir: string;
  /** ansible-playbook's argv (run it inside the lab namespace). */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Where OpenSSH's ControlPersist masters keep their sockets (they are stopped by PID at the end). */
  controlDir: string;
}

/**
 * The Ansible project: inventory with the lab hosts' addresses, the cluster key and the pinned
 * host keys kprov uses, the etcd binaries from the lab release, each host's certificates from
 * kprov's PKI (<inventory>/pki, the same files kprov's role sends), and kprov's own templates.
 * Settings as Kubespray's ansible.cfg has them (pipelining, ControlPersist); no fact gathering.
 */
export async function writeAnsibleProject(lab: ClusterLab, dir: string, env: NodeJS.ProcessEnv): Promise<AnsibleProject> {
  const inventory = await loadInventory(lab.inventoryDir);
  const run = createClusterRun(inventory, { env });
  const pki = await run.pki();
  const members = run.topology.etcd;
  await rm(dir, { recursive: true, force: true });
  const controlDir = path.join(dir, 'cp');
  for (const d of ['files', 'templates', 'host_vars', 'pki', controlDir]) await mkdir(path.resolve(dir, d), { recursive: true });

  const etcd = lab.release.artifacts.find((a) => a.name === 'etcd');
  if (!etcd) throw new Error('the lab release has no etcd');
  const tarball = path.join(lab.mirrorRoot, etcd.urlPath);
  execFileSync('tar', ['-xzf', tarball, '-C', path.join(dir, 'files'), '--strip-components=1', '--wildcards', '*/etcd', '*/etcdctl']);

  await cp(path.join(packageRoot, 'templates/etcd/etcd.env.j2'), path.join(dir, 'templates/etcd.env.j2'));
  await cp(path.join(packageRoot, 'templates/etcd/etcd.service.j2'), path.join(dir, 'templates/etcd.service.j2'));

  const hostsIni = ['[etcd]'];
  for (const m of members) {
    const h = m.host;
    hostsIni.push(`${h.name} ansible_host=${h.address}`);
    const files = [];
    for (const f of pki.filesForHost(h.name, ['etcd'])) {
      const local = path.join(dir, 'pki', h.name, f.path.replace(/^\//, ''));
      await mkdir(path.dirname(local), { recursive: true });
      await writeFile(local, f.content, { mode: 0o600 });
      files.push({ src: local, dest: f.path, mode: `0${f.mode.toString(8)}` });
    }
    const ip = h.ip.includes(':') ? `[${h.ip}]` : h.ip;
    const vars = {
      bin_dir: h.vars.bin_dir,
      data_dir: h.vars.etcd_data_dir,
      pki_files: files,
      tls: etcdTlsFiles(pki.plan, h.name),
      other_client_urls: members.filter((o) => o !== m).map((o) => o.clientUrl).join(','),
      // What kprov's templates read (src/roles/etcd/config.ts).
      name: m.name,
      advertise_client_urls: m.clientUrl,
      initial_advertise_peer_urls: m.peerUrl,
      initial_cluster: members.map((o) => `${o.name}=${o.peerUrl}`).join(','),
      initial_cluster_token: ETCD_CLUSTER_TOKEN,
      listen_client_urls: `https://${ip}:2379,https://127.0.0.1:2379`,
      listen_peer_urls: `https://${ip}:2380`,
      etcd_version: h.vars.etcd_version,
      env_file: ETCD_ENV_FILE,
    };
    await writeFile(path.join(dir, 'host_vars', `${h.name}.yml`), stringify(vars));
  }
  const key = clusterKeyPath(lab.inventoryDir, 'ed25519');
  if (!existsSync(key)) throw new Error(`no cluster key at ${key}: distribute it first (kprov apply cluster --tags ssh-keys)`);
  hostsIni.push('', '[etcd:vars]', 'ansible_user=root', `ansible_ssh_private_key_file=${key}`, 'ansible_python_interpreter=/usr/bin/python3');
  await writeFile(path.join(dir, 'hosts.ini'), `${hostsIni.join('\n')}\n`);
  await writeFile(path.join(dir, 'etcd.yml'), PLAYBOOK);
  await writeFile(
    path.join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      'inventory = hosts.ini',
      'forks = 20',
      'host_key_checking = True',
      'gathering = explicit',
      'retry_files_enabled = False',
      'nocows = True',
      '',
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = -o ControlMaster=auto -o ControlPersist=30m -o UserKnownHostsFile=${knownHostsPath(lab.inventoryDir)} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
      `control_path_dir = ${controlDir}`,
      '',
    ].join('\n'),
  );
  // The templates use Jinja2 as kprov's renderer does; check they exist before the first round.
  await readFile(path.join(dir, 'templates/etcd.env.j2'), 'utf8');
  return {
    dir,
    argv: ['ansible-playbook', 'etcd.yml'],
    env: { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'), ANSIBLE_FORCE_COLOR: '0' },
    controlDir,
  };
}
