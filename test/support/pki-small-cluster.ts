/** The cluster the PKI tests issue certificates for. */
import { parsePkiInput, type PkiInput, type PkiInputDraft } from '../../src/pki/index.js';

/** Two control-plane/etcd hosts and one worker; every host runs a kubelet. */
export function smallCluster(overrides: Partial<PkiInputDraft> = {}): PkiInput {
  const cp1 = { name: 'cp1', ip: '10.0.0.1', accessIp: '192.0.2.1', address: 'cp1.example.test' };
  const cp2 = { name: 'cp2', ip: '10.0.0.2', address: '10.0.0.2' };
  const w1 = { name: 'w1', ip: '10.0.0.11', address: '10.0.0.11' };
  return parsePkiInput({
    clusterName: 'kprov-test',
    dnsDomain: 'cluster.local',
    serviceCidr: '10.233.0.0/18',
    controlPlane: [cp1, cp2],
    etcd: [
      { ...cp1, memberName: 'etcd1' },
      { ...cp2, memberName: 'etcd2' },
    ],
    nodes: [cp1, cp2, w1],
    loadBalancer: { address: '10.0.0.100', port: 8443, domainName: 'lb.kprov.test' },
    supplementaryAddresses: ['api.example.test', '203.0.113.7'],
    apiserverEndpoint: 'https://10.0.0.100:8443',
    ...overrides,
  });
}
