/**
 * A CRI runtime.v1alpha2 client: gRPC (@grpc/grpc-js) over containerd's unix socket, messages
 * encoded by protobufjs from the API subset in cri-api.ts. Methods take and return plain objects
 * with camelCase field names; int64 timestamps come back as nanosecond strings (see `nanosToMs`).
 * Errors read like the Go client's: `rpc error: code = NotFound desc = …`.
 */
import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { CRI_PROTO } from './cri-api.js';

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE';

export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname: string;
  logDirectory: string;
  dnsConfig?: { servers: string[]; searches: string[]; options: string[] };
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: { cgroupParent: string; securityContext: { namespaceOptions: NamespaceOption; privileged: boolean } };
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: { image: string };
  command: string[];
  args: string[];
  workingDir: string;
  envs: Array<{ key: string; value: string }>;
  mounts: Array<{ containerPath: string; hostPath: string; readonly: boolean }>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: { securityContext: { privileged: boolean; namespaceOptions: NamespaceOption } };
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PodSandboxStatus extends PodSandbox {
  network?: { ip: string };
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number };
  image: { image: string };
  imageRef: string;
  state: ContainerState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  image: { image: string };
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
}

export interface VersionInfo {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** A CRI int64 nanosecond timestamp (as protobufjs gives it, a decimal string) in milliseconds; 0 when unset. */
export function nanosToMs(nanos: string): number {
  return nanos === '' || nanos === '0' ? 0 : Number(BigInt(nanos) / 1_000_000n);
}

export class CriError extends Error {
  override readonly name = 'CriError';
  constructor(
    readonly code: string,
    readonly desc: string,
  ) {
    super(`rpc error: code = ${code} desc = ${desc}`);
  }
}

const codeNames = new Map<number, string>(Object.entries(grpcStatus).filter((e): e is [string, number] => typeof e[1] === 'number').map(([k, v]) => [v, k.split('_').map((w) => w[0]! + w.slice(1).toLowerCase()).join('')]));

const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true };

export class CriClient {
  private readonly root: protobuf.Root;
  private readonly client: Client;

  constructor(
    readonly socket: string,
    private readonly timeoutMs = 120_000,
  ) {
    this.root = protobuf.parse(CRI_PROTO).root;
    this.client = new Client(`unix://${socket}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  }

  close(): void {
    this.client.close();
  }

  private call<T>(service: 'RuntimeService' | 'ImageService', method: string, request: object, timeoutMs = this.timeoutMs): Promise<T> {
    const reqType = this.root.lookupType(`runtime.v1alpha2.${method}Request`);
    const resType = this.root.lookupType(`runtime.v1alpha2.${method}Response`);
    const serialize = (value: object): Buffer => Buffer.from(reqType.encode(reqType.fromObject(value)).finish());
    const deserialize = (bytes: Buffer): T => resType.toObject(resType.decode(bytes), toObjectOptions) as T;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(`/runtime.v1alpha2.${service}/${method}`, serialize, deserialize, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, value?: T) => {
        if (err) reject(new CriError(codeNames.get(err.code) ?? `Code(${err.code})`, err.details));
        else resolve(value!);
      });
    });
  }

  async version(timeoutMs?: number): Promise<VersionInfo> {
    return this.call<VersionInfo>('RuntimeService', 'Version', { version: '0.1.0' }, timeoutMs);
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await this.call<{ podSandboxId: string }>('RuntimeService', 'RunPodSandbox', { config, runtimeHandler })).podSandboxId;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RuntimeService', 'StopPodSandbox', { podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RuntimeService', 'RemovePodSandbox', { podSandboxId });
  }

  async podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    return (await this.call<{ status: PodSandboxStatus }>('RuntimeService', 'PodSandboxStatus', { podSandboxId })).status;
  }

  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>('RuntimeService', 'ListPodSandbox', { filter: { labelSelector } })).items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.call<{ containerId: string }>('RuntimeService', 'CreateContainer', { podSandboxId, config, sandboxConfig })).containerId;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call('RuntimeService', 'StartContainer', { containerId });
  }

  /** `timeoutSeconds` is the grace period; the call itself may take that long, plus a margin. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await this.call('RuntimeService', 'StopContainer', { containerId, timeout: timeoutSeconds }, (timeoutSeconds + 30) * 1000);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call('RuntimeService', 'RemoveContainer', { containerId });
  }

  async listContainers(labelSelector: Record<string, string> = {}): Promise<Container[]> {
    return (await this.call<{ containers: Container[] }>('RuntimeService', 'ListContainers', { filter: { labelSelector } })).containers;
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    return (await this.call<{ status: ContainerStatus }>('RuntimeService', 'ContainerStatus', { containerId })).status;
  }

  /** Runs a command in a running container (probes); `timeoutSeconds` bounds it (0: none). */
  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.call<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>('RuntimeService', 'ExecSync', { containerId, cmd, timeout: timeoutSeconds }, (timeoutSeconds + 10) * 1000);
    return { stdout: Buffer.from(r.stdout ?? []).toString('utf8'), stderr: Buffer.from(r.stderr ?? []).toString('utf8'), exitCode: r.exitCode };
  }

  /** The image's ID when the runtime has it, else undefined. */
  async imageStatus(image: string): Promise<string | undefined> {
    const r = await this.call<{ image: { id: string } | null }>('ImageService', 'ImageStatus', { image: { image } });
    return r.image && r.image.id !== '' ? r.image.id : undefined;
  }

  async pullImage(image: string, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.call<{ imageRef: string }>('ImageService', 'PullImage', { image: { image }, sandboxConfig })).imageRef;
  }
}
