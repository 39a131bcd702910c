/**
 * What the runtime holds for the kubelet's pods, read with one ListPodSandbox and one
 * ListContainers per relist (v1.13's PLEG relists the same way), grouped by the pod UID label.
 * ContainerStatus and PodSandboxStatus are asked only for objects whose state changed since they
 * were last asked, so an unchanged pod costs the two list calls alone.
 */
import type { Container, ContainerStatus, CriClient, PodSandbox, PodSandboxStatus } from './cri-client.js';
import { CONTAINER_NAME_LABEL, POD_UID_LABEL, RESTART_COUNT_ANNOTATION } from './runtime-config.js';

export interface PodRuntime {
  uid: string;
  /** Newest first. */
  sandboxes: PodSandbox[];
  /** Newest first. */
  containers: Container[];
}

export function restartCountOf(c: { annotations: Record<string, string>; metadata: { attempt: number } }): number {
  const n = Number(c.annotations[RESTART_COUNT_ANNOTATION]);
  return Number.isInteger(n) && n >= 0 ? n : c.metadata.attempt;
}

export function containerNameOf(c: { labels: Record<string, string>; metadata: { name: string } }): string {
  return c.labels[CONTAINER_NAME_LABEL] ?? c.metadata.name;
}

const newestFirst = (a: { createdAt: string }, b: { createdAt: string }) => (BigInt(b.createdAt) > BigInt(a.createdAt) ? 1 : BigInt(b.createdAt) < BigInt(a.createdAt) ? -1 : 0);

export class RuntimeState {
  private containerStatuses = new Map<string, ContainerStatus>();
  private sandboxStatuses = new Map<string, PodSandboxStatus>();
  pods = new Map<string, PodRuntime>();

  constructor(private readonly cri: CriClient) {}

  /** Lists sandboxes and containers carrying a pod UID label (anything else is not the kubelet's). */
  async relist(): Promise<void> {
    const [sandboxes, containers] = await Promise.all([this.cri.listPodSandbox(), this.cri.listContainers()]);
    const pods = new Map<string, PodRuntime>();
    const of = (uid: string) => {
      let p = pods.get(uid);
      if (!p) pods.set(uid, (p = { uid, sandboxes: [], containers: [] }));
      return p;
    };
    for (const s of sandboxes) {
      const uid = s.labels[POD_UID_LABEL];
      if (uid) of(uid).sandboxes.push(s);
    }
    for (const c of containers) {
      const uid = c.labels[POD_UID_LABEL];
      if (uid) of(uid).containers.push(c);
    }
    for (const p of pods.values()) {
      p.sandboxes.sort(newestFirst);
      p.containers.sort(newestFirst);
    }
    this.pods = pods;
    // Cached statuses of objects that are gone, or whose state moved on, are asked again.
    const live = new Map<string, string>(containers.map((c) => [c.id, c.state]));
    for (const [id, st] of this.containerStatuses) if (live.get(id) !== st.state) this.containerStatuses.delete(id);
    const liveSandboxes = new Map<string, string>(sandboxes.map((s) => [s.id, s.state]));
    for (const [id, st] of this.sandboxStatuses) if (liveSandboxes.get(id) !== st.state) this.sandboxStatuses.delete(id);
  }

  /** Forgets what the runtime said about a pod (after the kubelet changed it). */
  invalidate(uid: string): void {
    const p = this.pods.get(uid);
    for (const c of p?.containers ?? []) this.containerStatuses.delete(c.id);
    for (const s of p?.sandboxes ?? []) this.sandboxStatuses.delete(s.id);
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    const cached = this.containerStatuses.get(id);
    if (cached) return cached;
    try {
      const st = await this.cri.containerStatus(id);
      this.containerStatuses.set(id, st);
      return st;
    } catch {
      return undefined;
    }
  }

  async sandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const cached = this.sandboxStatuses.get(id);
    if (cached) return cached;
    try {
      const st = await this.cri.podSandboxStatus(id);
      this.sandboxStatuses.set(id, st);
      return st;
    } catch {
      return undefined;
    }
  }

  /** The pod's containers named `name`, newest first. */
  containersNamed(uid: string, name: string): Container[] {
    return (this.pods.get(uid)?.containers ?? []).filter((c) => containerNameOf(c) === name);
  }
}
