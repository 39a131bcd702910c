/**
 * The declarative certificate plan: every CA, key pair, certificate and kubeconfig identity of a
 * cluster (kubeadm v1.13's table), with its names, usages, issuer, local files and recipients.
 * Everything else (issuing, reuse checks, host selection, kubeconfigs) reads this plan.
 */
import { firstAddressOf, typedSans } from './addresses.js';
import type { KeyAlgorithm, PkiHost, PkiInput } from './input.js';
import { MODE } from './layout.js';

export type HostRole = 'control-plane' | 'etcd' | 'node';
export type ExtKeyUsageName = 'serverAuth' | 'clientAuth';
export type SpecKind = 'ca' | 'leaf' | 'keypair';
export type FilePart = 'cert' | 'key' | 'pub';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

/** The services on a host that read PKI files: a changed file restarts exactly its readers. */
export type PkiConsumer = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy';

/** One file of a spec copied to hosts. */
export interface Delivery {
  part: FilePart;
  remotePath: string;
  mode: number;
  /** Who reads it on the host (none: only clients such as etcdctl or kubectl use it). */
  readers: readonly PkiConsumer[];
}

/** Who receives a spec's files: every host with the role, or (with `host`) only that one. */
export interface Recipient {
  role: HostRole;
  host?: string;
  deliveries: Delivery[];
}

/** A kubeconfig made from a client certificate. */
export interface KubeconfigSpec {
  /** File name in the rendered set: admin.conf, kubelet-<node>.conf … */
  file: string;
  /** 'endpoint' = input.apiserverEndpoint; 'control-plane' = the caller's choice for components
   *  running on control-plane hosts (localhost, endpoint or the host's own address). */
  server: 'endpoint' | 'control-plane';
  recipients: { role: HostRole; host?: string; remotePath: string; readers: readonly PkiConsumer[] }[];
}

export interface CertSpec {
  /** Unique name; also the file stem under the PKI directory ("etcd/server-node1"). */
  name: string;
  kind: SpecKind;
  description: string;
  /** Name of the CA spec that signs it (leaf certificates). */
  issuer?: string;
  /** The host a per-host certificate belongs to (etcd server/peer, kubelet). */
  host?: string;
  commonName: string;
  organizations: string[];
  extKeyUsages: ExtKeyUsageName[];
  sans: SubjectAltNames;
  validityDays: number;
  keyAlgorithm: KeyAlgorithm;
  /** Paths relative to the PKI directory. A key pair has `pub` instead of `cert`. */
  files: { cert?: string; key: string; pub?: string };
  recipients: Recipient[];
  kubeconfig?: KubeconfigSpec;
}

const noSans: SubjectAltNames = { dns: [], ip: [] };

function files(name: string): { cert: string; key: string } {
  return { cert: `${name}.crt`, key: `${name}.key` };
}

function certAndKey(remoteDir: string, stem: string, readers: readonly PkiConsumer[], keyReaders = readers): Delivery[] {
  return [
    { part: 'cert', remotePath: `${remoteDir}/${stem}.crt`, mode: MODE.certificate, readers },
    { part: 'key', remotePath: `${remoteDir}/${stem}.key`, mode: MODE.privateKey, readers: keyReaders },
  ];
}

function certOnly(remoteDir: string, stem: string, readers: readonly PkiConsumer[]): Delivery[] {
  return [{ part: 'cert', remotePath: `${remoteDir}/${stem}.crt`, mode: MODE.certificate, readers }];
}

function hostNames(h: PkiHost): string[] {
  return [h.name, h.ip, h.accessIp, h.address].filter((v): v is string => v !== undefined);
}

/** The kube-apiserver serving certificate's SANs (the list, in a stable order). */
export function apiserverSans(input: PkiInput): SubjectAltNames {
  const lb = input.loadBalancer;
  return typedSans([
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${input.dnsDomain}`,
    'localhost',
    firstAddressOf(input.serviceCidr),
    '127.0.0.1',
    ...input.controlPlane.flatMap(hostNames),
    lb?.address,
    lb?.domainName,
    ...input.supplementaryAddresses,
  ]);
}

/** etcd server and peer SANs: the host's names and addresses plus loopback (kubeadm v1.13). */
export function etcdMemberSans(h: PkiHost): SubjectAltNames {
  return typedSans([...hostNames(h), 'localhost', '127.0.0.1', '::1']);
}

/**
 * Builds the plan. Kubelet identities are made for every host in `input.nodes`; include the
 * control-plane hosts there when they run a kubelet (Kubespray does).
 */
export function planCertificates(input: PkiInput): CertSpec[] {
  const leafDays = input.validityDays;
  const caDays = input.caValidityDays;
  const alg = input.keyAlgorithm;
  // Remote locations follow the inventory (kube_cert_dir, etcd_cert_dir, kube_config_dir).
  const { cert: certDir, etcdCert: etcdDir, config: configDir, kubeletCert: kubeletDir } = input.remoteDirs;
  const specs: CertSpec[] = [];

  const ca = (name: string, commonName: string, description: string, recipients: Recipient[]): CertSpec => ({
    name,
    kind: 'ca',
    description,
    commonName,
    organizations: [],
    extKeyUsages: [],
    sans: noSans,
    validityDays: caDays,
    keyAlgorithm: alg,
    files: files(name),
    recipients,
  });

  const leaf = (
    s: Omit<CertSpec, 'kind' | 'validityDays' | 'keyAlgorithm' | 'files' | 'organizations' | 'sans'> &
      Partial<Pick<CertSpec, 'organizations' | 'sans'>>,
  ): CertSpec => ({
    kind: 'leaf',
    organizations: [],
    sans: noSans,
    ...s,
    validityDays: leafDays,
    keyAlgorithm: alg,
    files: files(s.name),
  });

  // Certificate authorities. Only the Kubernetes CA key reaches hosts (controller-manager signs
  // kubelet CSRs with it); the etcd and front-proxy CA keys never leave the inventory.
  specs.push(
    ca('ca', 'kubernetes', 'Kubernetes CA', [
      // The controller manager signs kubelet CSRs with the key; the API server checks clients with the cert.
      { role: 'control-plane', deliveries: certAndKey(certDir, 'ca', ['kube-apiserver', 'kube-controller-manager'], ['kube-controller-manager']) },
      { role: 'node', deliveries: certOnly(certDir, 'ca', ['kubelet']) },
    ]),
    ca('front-proxy-ca', 'front-proxy-ca', 'front-proxy (aggregation layer) CA', [
      { role: 'control-plane', deliveries: certOnly(certDir, 'front-proxy-ca', ['kube-apiserver', 'kube-controller-manager']) },
    ]),
    ca('etcd/ca', 'etcd-ca', 'etcd CA', [
      { role: 'control-plane', deliveries: certOnly(etcdDir, 'ca', ['kube-apiserver']) },
      { role: 'etcd', deliveries: certOnly(etcdDir, 'ca', ['etcd']) },
    ]),
  );

  // Service-account token signing key pair: RSA 2048 whatever keyAlgorithm says (kubeadm's).
  specs.push({
    name: 'sa',
    kind: 'keypair',
    description: 'service-account token signing key pair',
    commonName: '',
    organizations: [],
    extKeyUsages: [],
    sans: noSans,
    validityDays: 0,
    keyAlgorithm: 'rsa-2048',
    files: { key: 'sa.key', pub: 'sa.pub' },
    recipients: [
      {
        role: 'control-plane',
        deliveries: [
          // The controller manager signs service-account tokens; the API server verifies them.
          { part: 'key', remotePath: `${certDir}/sa.key`, mode: MODE.privateKey, readers: ['kube-controller-manager'] },
          { part: 'pub', remotePath: `${certDir}/sa.pub`, mode: MODE.publicKey, readers: ['kube-apiserver'] },
        ],
      },
    ],
  });

  // Control plane.
  const cpFiles = (stem: string): Recipient[] => [{ role: 'control-plane', deliveries: certAndKey(certDir, stem, ['kube-apiserver']) }];
  specs.push(
    leaf({
      name: 'apiserver',
      description: 'kube-apiserver serving certificate',
      issuer: 'ca',
      commonName: 'kube-apiserver',
      extKeyUsages: ['serverAuth'],
      sans: apiserverSans(input),
      recipients: cpFiles('apiserver'),
    }),
    leaf({
      name: 'apiserver-kubelet-client',
      description: 'kube-apiserver client certificate for kubelets',
      issuer: 'ca',
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      extKeyUsages: ['clientAuth'],
      recipients: cpFiles('apiserver-kubelet-client'),
    }),
    leaf({
      name: 'apiserver-etcd-client',
      description: 'kube-apiserver client certificate for etcd',
      issuer: 'etcd/ca',
      commonName: 'kube-apiserver-etcd-client',
      organizations: ['system:masters'],
      extKeyUsages: ['clientAuth'],
      recipients: cpFiles('apiserver-etcd-client'),
    }),
    leaf({
      name: 'front-proxy-client',
      description: 'front-proxy client certificate',
      issuer: 'front-proxy-ca',
      commonName: 'front-proxy-client',
      extKeyUsages: ['clientAuth'],
      recipients: cpFiles('front-proxy-client'),
    }),
  );

  // etcd: per member a server and a peer certificate, copied only to that member.
  for (const h of input.etcd) {
    for (const kind of ['server', 'peer'] as const) {
      specs.push(
        leaf({
          name: `etcd/${kind}-${h.name}`,
          description: `etcd ${kind} certificate of ${h.name}`,
          issuer: 'etcd/ca',
          host: h.name,
          commonName: h.name,
          extKeyUsages: ['serverAuth', 'clientAuth'],
          sans: etcdMemberSans(h),
          recipients: [{ role: 'etcd', host: h.name, deliveries: certAndKey(etcdDir, kind, ['etcd']) }],
        }),
      );
    }
  }
  specs.push(
    leaf({
      name: 'etcd/healthcheck-client',
      description: 'etcd health-check client certificate',
      issuer: 'etcd/ca',
      commonName: 'kube-etcd-healthcheck-client',
      organizations: ['system:masters'],
      extKeyUsages: ['clientAuth'],
      // etcdctl's (kprov's health checks), not the member's.
      recipients: [{ role: 'etcd', deliveries: certAndKey(etcdDir, 'healthcheck-client', []) }],
    }),
  );

  // Kubeconfig identities. The certificate files stay local; hosts get the kubeconfigs.
  const cpKubeconfig = (file: string, readers: readonly PkiConsumer[]) => ({
    file,
    server: 'control-plane' as const,
    recipients: [{ role: 'control-plane' as const, remotePath: `${configDir}/${file}`, readers }],
  });
  specs.push(
    leaf({
      name: 'admin',
      description: 'cluster administrator (admin.conf)',
      issuer: 'ca',
      commonName: 'kubernetes-admin',
      organizations: ['system:masters'],
      extKeyUsages: ['clientAuth'],
      recipients: [],
      // kubectl's: no service reads it.
      kubeconfig: cpKubeconfig('admin.conf', []),
    }),
    leaf({
      name: 'controller-manager',
      description: 'kube-controller-manager (controller-manager.conf)',
      issuer: 'ca',
      commonName: 'system:kube-controller-manager',
      extKeyUsages: ['clientAuth'],
      recipients: [],
      kubeconfig: cpKubeconfig('controller-manager.conf', ['kube-controller-manager']),
    }),
    leaf({
      name: 'scheduler',
      description: 'kube-scheduler (scheduler.conf)',
      issuer: 'ca',
      commonName: 'system:kube-scheduler',
      extKeyUsages: ['clientAuth'],
      recipients: [],
      kubeconfig: cpKubeconfig('scheduler.conf', ['kube-scheduler']),
    }),
    leaf({
      name: 'kube-proxy',
      description: 'kube-proxy (kube-proxy.conf)',
      issuer: 'ca',
      commonName: 'system:kube-proxy',
      organizations: ['system:node-proxier'],
      extKeyUsages: ['clientAuth'],
      recipients: [{ role: 'node', deliveries: certAndKey(certDir, 'kube-proxy', ['kube-proxy']) }],
      kubeconfig: {
        file: 'kube-proxy.conf',
        server: 'endpoint',
        recipients: [{ role: 'node', remotePath: `${configDir}/kube-proxy.conf`, readers: ['kube-proxy'] }],
      },
    }),
  );

  // Kubelets: a client identity (system:node:<name>) and a serving certificate per node.
  for (const n of input.nodes) {
    specs.push(
      leaf({
        name: `kubelet/${n.name}-client`,
        description: `kubelet client certificate of ${n.name} (kubelet.conf)`,
        issuer: 'ca',
        host: n.name,
        commonName: `system:node:${n.name}`,
        organizations: ['system:nodes'],
        extKeyUsages: ['clientAuth'],
        recipients: [{ role: 'node', host: n.name, deliveries: certAndKey(kubeletDir, 'kubelet-client', ['kubelet']) }],
        kubeconfig: {
          file: `kubelet-${n.name}.conf`,
          server: 'endpoint',
          recipients: [{ role: 'node', host: n.name, remotePath: `${configDir}/kubelet.conf`, readers: ['kubelet'] }],
        },
      }),
      leaf({
        name: `kubelet/${n.name}-server`,
        description: `kubelet serving certificate of ${n.name}`,
        issuer: 'ca',
        host: n.name,
        commonName: n.name,
        extKeyUsages: ['serverAuth'],
        sans: typedSans(hostNames(n)),
        recipients: [{ role: 'node', host: n.name, deliveries: certAndKey(kubeletDir, 'kubelet', ['kubelet']) }],
      }),
    );
  }
  return specs;
}

/** The spec with this name, or undefined. */
export function findSpec(specs: readonly CertSpec[], name: string): CertSpec | undefined {
  return specs.find((s) => s.name === name);
}
