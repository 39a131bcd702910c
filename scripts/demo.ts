/**
 * `npm run demo`: the main job on a fresh Debian 12 machine, as root. Installs the Debian
 * packages the lab needs, builds the stand-in v1.13 release into the lab cache, boots a 5-host
 * lab (3 control-plane + etcd hosts, 2 workers), pins the inventory to the release's versions,
 * runs `kprov apply cluster`, and shows the real kubectl's `get nodes` and `get componentstatuses`
 * through the admin kubeconfig kprov wrote.
 *
 * Running it again reuses what exists: a lab that is up is applied to again, which is a no-op.
 * Tear down with `./bin/kprov.js lab down --name demo`.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatError, isKprovError, KprovError } from '../src/errors.js';
import { BASE_SUITE } from '../src/lab/base-image.js';
import { findAptMirror } from '../src/lab/apt-mirror.js';
import { labNamespace } from '../src/lab/names.js';
import { COMMAND_PACKAGES, findCommand, requireRoot } from '../src/lab/preflight.js';
import { labStatus, type LabStatus } from '../src/lab/status.js';
import { packageRoot } from '../src/paths.js';
import { ensureStandinRelease, RELEASE_DIR } from '../dev/cluster-lab.js';
import { pinInventory, readReleasePins } from '../src/lab/release-pins.js';
import { ensureLabImages, pushLabImages } from '../dev/lab-images.js';
import { runCommand } from '../dev/run-command.js';
import { APP, APP_COMMANDS, createApp, curlNodePorts, nodePortOf, resolveFromEveryNode, waitForEndpoints, type Run } from '../dev/app-journey.js';

const LAB = 'demo';
const HOSTS = 5;
const inventoryDir = path.join(packageRoot, 'inventory', LAB);
const kprovBin = path.join(packageRoot, 'bin', 'kprov.js');
const rel = (p: string) => path.relative(process.cwd(), p) || '.';
/** A command line as a reader would type it: `node` for this Node, paths inside the cwd relative. */
const shown = (argv: readonly string[]) =>
  argv.map((a) => (a === process.execPath ? 'node' : a.startsWith(`${process.cwd()}/`) ? rel(a) : a)).join(' ');

/** Tools the demo runs besides the lab's own: the release builder fetches Debian packages. */
const RELEASE_COMMANDS: Readonly<Record<string, string>> = { 'apt-get': 'apt', 'dpkg-deb': 'dpkg' };

let step = 0;
const STEPS = 9;
function heading(text: string): void {
  step += 1;
  console.log(`\n[${step}/${STEPS}] ${text}`);
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Runs a command with its output on this terminal; a non-zero exit is an error naming it. */
async function run(argv: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<void> {
  const [file, ...args] = argv;
  const r = await execa(file!, args, { stdio: 'inherit', reject: false, timeout: options.timeoutMs, ...(options.env ? { env: options.env } : {}) });
  if (r.exitCode !== 0) {
    throw new KprovError('host', `\`${shown(argv)}\` ${r.timedOut ? 'timed out' : `exited with ${r.exitCode ?? r.signal}`}`);
  }
}

/** Installs the Debian packages that provide missing commands, from the mirror apt already uses. */
async function hostPackages(): Promise<void> {
  heading('Debian packages the lab needs');
  const needed = { ...COMMAND_PACKAGES, ...RELEASE_COMMANDS };
  const pathEnv = process.env['PATH'] ?? '';
  const missing = Object.keys(needed).filter((c) => findCommand(c, pathEnv) === undefined);
  if (missing.length === 0) {
    console.log('    all present (debootstrap, systemd-container, iproute2, …)');
    return;
  }
  const packages = [...new Set(missing.map((c) => needed[c]!))];
  const mirror = await findAptMirror(BASE_SUITE).catch(() => 'the mirror in /etc/apt');
  console.log(`    missing ${missing.join(', ')}: apt-get install ${packages.join(' ')} (from ${mirror})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run(['apt-get', 'update'], { timeoutMs: 600_000, env });
  await run(['apt-get', 'install', '-y', '--no-install-recommends', ...packages], { timeoutMs: 900_000, env });
}

/** The release the lab serves, and its real kubectl. */
async function release(): Promise<{ kubectl: string }> {
  heading('Release the lab serves (stand-in kube server binaries, real everything else)');
  const started = Date.now();
  console.log('    (built from Debian packages and dev/standin on first use, ~15 s; reused afterwards)');
  const manifest = await ensureStandinRelease();
  for (const a of manifest.artifacts) console.log(`    ${a.name.padEnd(24)} ${a.version.padEnd(9)} ${a.source}`);
  console.log(`    ready in ${seconds(Date.now() - started)}: ${RELEASE_DIR}`);
  const kubectl = manifest.artifacts.find((a) => a.name === 'kubectl');
  if (!kubectl) throw new KprovError('internal', 'the stand-in release has no kubectl');
  return { kubectl: path.join(RELEASE_DIR, kubectl.urlPath) };
}

function isUp(status: LabStatus): boolean {
  return status.phase === 'ready' && status.namespaceExists && status.hosts.length > 0 && status.hosts.every((h) => h.running) && status.mirror?.running === true;
}

/** Boots the demo lab, or reuses it when it is already up and serves this release. */
async function lab(): Promise<string> {
  heading(`Lab: ${HOSTS} Debian hosts with systemd and sshd (systemd-nspawn, no route out)`);
  const status = await labStatus(LAB);
  if (isUp(status)) {
    if (path.resolve(status.mirror!.root) !== path.resolve(RELEASE_DIR)) {
      throw new KprovError('usage', `a lab named "${LAB}" is up but serves ${status.mirror!.root}, not the stand-in release`, {
        hint: `take it down first: ${rel(kprovBin)} lab down --name ${LAB}`,
      });
    }
    console.log(`    already up: ${status.hosts.map((h) => `${h.name} ${h.address}`).join(', ')} (reused)`);
    return status.inventoryDir ?? inventoryDir;
  }
  if (status.phase !== 'broken' || status.namespaceExists) {
    console.log(`    a lab named "${LAB}" exists but is not fully up: taking it down first`);
    await run([process.execPath, kprovBin, 'lab', 'down', '--name', LAB], { timeoutMs: 120_000 });
  }
  await run([process.execPath, kprovBin, 'lab', 'up', '--hosts', String(HOSTS), '--name', LAB, '--inventory', inventoryDir, '--mirror-root', RELEASE_DIR], {
    timeoutMs: 900_000,
  });
  return inventoryDir;
}

async function apply(dir: string): Promise<number> {
  heading('kprov apply cluster');
  const started = Date.now();
  await run([process.execPath, kprovBin, 'apply', 'cluster', '-i', dir], { timeoutMs: 1_200_000 });
  return Date.now() - started;
}

/** The sandbox and workload images into the lab's registry, so pods can start (built once per machine). */
async function images(): Promise<void> {
  heading('Images in the lab registry');
  const registry = (await labStatus(LAB)).registry;
  if (!registry?.running) throw new KprovError('lab', `the lab "${LAB}" has no running registry`);
  const started = Date.now();
  const inLab = (cmd: string[], opts?: { timeoutMs?: number }) => runCommand(['ip', 'netns', 'exec', labNamespace(LAB), ...cmd], opts);
  const pushed = await pushLabImages({ inLab, registryUrl: registry.url }, await ensureLabImages());
  for (const p of pushed) console.log(`    ${p.name}`);
  console.log(`    pushed in ${seconds(Date.now() - started)} to ${registry.url}`);
}

async function check(dir: string): Promise<number> {
  heading('kprov apply check: a pod on every node reaches the others by pod IP, a Service and the cluster DNS');
  const started = Date.now();
  await run([process.execPath, kprovBin, 'apply', 'check', '-i', dir], { timeoutMs: 600_000 });
  return Date.now() - started;
}

async function showCluster(dir: string, kubectl: string): Promise<void> {
  heading('The cluster, as the real kubectl sees it through the admin kubeconfig');
  const adminConf = path.join(dir, 'artifacts', 'admin.conf');
  if (!existsSync(adminConf)) throw new KprovError('internal', `kprov apply did not write ${adminConf}`);
  // Lab addresses exist only in the lab's network namespace, so kubectl runs there.
  for (const args of [['get', 'nodes', '-o', 'wide'], ['get', 'componentstatuses']]) {
    const argv = ['ip', 'netns', 'exec', labNamespace(LAB), kubectl, '--kubeconfig', adminConf, ...args];
    console.log(`\n$ ${shown(argv)}`);
    await run(argv, { timeoutMs: 60_000 });
  }
}

/** The journey every course ends with: a Deployment, scaled, exposed as a NodePort, curl on every node, DNS by name. */
async function application(dir: string, kubectl: string): Promise<number> {
  heading('An application: a Deployment of 2 behind a NodePort Service, and the cluster DNS');
  const started = Date.now();
  const adminConf = path.join(dir, 'artifacts', 'admin.conf');
  const inLab: Run = (argv, options) => runCommand(['ip', 'netns', 'exec', labNamespace(LAB), ...argv], { timeoutMs: options?.timeoutMs ?? 60_000, ...(options?.input !== undefined ? { input: options.input } : {}) });
  const run: Run = (args, options) => inLab([kubectl, '--kubeconfig', adminConf, ...args], options);
  for (const args of APP_COMMANDS) console.log(`    $ kubectl ${args.join(' ')}`);
  await createApp(run);
  const endpoints = await waitForEndpoints(run, 2, 180_000);
  console.log(`    endpoints: ${endpoints.map((e) => `${e.ip} (${e.pod} on ${e.node})`).join(', ')}`);
  const port = await nodePortOf(run);
  const status = await labStatus(LAB);
  const answers = await curlNodePorts(inLab, status.hosts.map((h) => ({ name: h.name, ip: h.address })), port);
  for (const a of answers) console.log(`    $ curl ${a.url}   → ${a.answer === '' ? '(no answer)' : a.answer}`);
  if (answers.some((a) => !endpoints.some((e) => e.pod === a.answer))) throw new KprovError('host', `a node port did not answer with one of the app's pods (${endpoints.map((e) => e.pod).join(', ')})`);
  const resolved = await resolveFromEveryNode(run, status.hosts.map((h) => h.name), 'cluster.local', 180_000);
  for (const r of resolved) console.log(`    ${r.node}: a pod resolves ${APP}.default through the cluster DNS and fetches it: ${r.ok ? 'ok' : `FAILED\n      ${r.log.split('\n').join('\n      ')}`}`);
  if (resolved.some((r) => !r.ok)) throw new KprovError('host', 'the cluster DNS did not answer a pod on every node');
  console.log(`    the app stays up: kubectl get deploy,svc,ep ${APP}`);
  return Date.now() - started;
}

async function main(): Promise<number> {
  console.log(`kprov demo: a Kubernetes v1.13 cluster on ${HOSTS} throwaway local hosts`);
  console.log(
    '  The lab runs stand-in kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy\n' +
      '  (dev/standin: development tooling that enforces the v1.13 flags and checks every file it is given),\n' +
      '  because the real v1.13 server binaries cannot be downloaded on this machine. etcd, containerd, runc,\n' +
      '  the CNI plugins and kubectl are the real binaries from Debian packages. On real hosts kprov installs\n' +
      '  the real v1.13 release from dl.k8s.io.',
  );
  requireRoot();
  const started = Date.now();
  await hostPackages();
  heading('kprov');
  console.log(`    built: ${rel(kprovBin)} (npm run build)`);
  const { kubectl } = await release();
  const dir = await lab();
  // lab up pinned the inventory to what its mirror serves; a user's `kprov lab up` does the same.
  const pins = await readReleasePins(RELEASE_DIR);
  // A reused lab's inventory may predate this release: pin it again (a no-op when it matches).
  if (pins) await pinInventory(dir, pins);
  console.log(`    inventory: ${rel(dir)} (lab up pinned it to the mirror's release: kube ${pins?.['kube_version']}, etcd ${pins?.['etcd_version']})`);
  await images();
  const applyMs = await apply(dir);
  await showCluster(dir, kubectl);
  const checkMs = await check(dir);
  const appMs = await application(dir, kubectl);
  console.log(`\nDone in ${seconds(Date.now() - started)} (apply ${seconds(applyMs)}, check ${seconds(checkMs)}, application ${seconds(appMs)}).`);
  console.log(`  admin kubeconfig:  ${rel(path.join(dir, 'artifacts', 'admin.conf'))}  (also: ${rel(kprovBin)} kubeconfig -i ${rel(dir)})`);
  console.log(`  check pods again:  ${rel(kprovBin)} apply check -i ${rel(dir)}`);
  console.log(`  a host's shell:    ${rel(kprovBin)} lab exec --name ${LAB} node1 -- bash`);
  console.log(`  run it again:      npm run demo   (reuses the lab; the apply changes nothing)`);
  console.log(`  tear down:         ${rel(kprovBin)} lab down --name ${LAB}`);
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (isKprovError(err)) {
    console.error(formatError(err));
    process.exitCode = err.exitCode;
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
  const status = await labStatus(LAB).catch(() => undefined);
  if (status && isUp(status)) {
    console.error(`  the lab stays up for inspection (${rel(kprovBin)} lab exec --name ${LAB} node1 -- bash); tear down: ${rel(kprovBin)} lab down --name ${LAB}`);
  }
}
