/**
 * The run context of one cluster playbook run (kubeadm's RunData idea): built once by the CLI
 * from the loaded inventory and the command's options, handed by the engine to every role as
 * `ctx.run`. Everything here is either given at construction or computed on first use and then
 * kept for the run (topology, PKI, artifacts), so roles never wonder whether a value was set.
 */
import type { Change, Handler, PlayContext, Role, Task, TaskContext } from '../engine/contract.js';
import type { Inventory } from '../inventory/load.js';
import { resolveArtifactIndex, type ArtifactIndex } from './artifact-index.js';
import { loadClusterPki, type ClusterPki } from './pki.js';
import { readPodCidrs, recordDiffers, writePodCidrs } from './pod-cidrs.js';
import { buildTopology, type Topology } from './topology.js';

export interface ClusterRunOptions {
  /** A plan: the PKI is issued on a temporary copy, nothing is written. */
  dryRun: boolean;
  /** Install artifacts whose checksum cannot be verified, warning on every host. */
  insecureSkipChecksum: boolean;
  /** The environment the artifact cache location is read from ($XDG_CACHE_HOME, $HOME). */
  env: Readonly<Record<string, string | undefined>>;
}

/** Where the run's PKI and artifacts come from (tests put small local stand-ins here). */
export interface ClusterRunSources {
  pki(inventory: Inventory, options: ClusterRunOptions): Promise<ClusterPki>;
  artifacts(inventory: Inventory, options: ClusterRunOptions): Promise<ArtifactIndex>;
}

export const DEFAULT_SOURCES: ClusterRunSources = {
  pki: (inventory, options) => loadClusterPki(inventory, { dryRun: options.dryRun }),
  artifacts: resolveArtifactIndex,
};

export class ClusterRun {
  private topologyMemo: Topology | undefined;
  private pkiMemo: Promise<ClusterPki> | undefined;
  private artifactsMemo: Promise<ArtifactIndex> | undefined;

  constructor(
    readonly inventory: Inventory,
    readonly options: ClusterRunOptions,
    private readonly sources: ClusterRunSources = DEFAULT_SOURCES,
  ) {}

  /** Who runs what, at which addresses (derived from the inventory on first use; bad input throws). */
  get topology(): Topology {
    if (!this.topologyMemo) {
      const recorded = readPodCidrs(this.inventory.dir);
      this.topologyMemo = buildTopology(this.inventory, recorded);
      // The nodes' slices are kept with the inventory before any host is given one (not in a plan).
      const allocation = new Map(this.topologyMemo.nodes.map((n) => [n.host.name, n.podCidr]));
      if (!this.options.dryRun && recordDiffers(recorded, allocation)) writePodCidrs(this.inventory.dir, Object.fromEntries(allocation));
    }
    return this.topologyMemo;
  }

  /** The cluster PKI, issued or checked once per run however many roles and hosts ask. */
  pki(): Promise<ClusterPki> {
    this.pkiMemo ??= this.sources.pki(this.inventory, this.options);
    return this.pkiMemo;
  }

  /** Every artifact the inventory needs, resolved once per run (downloaded unless hosts fetch their own). */
  artifacts(): Promise<ArtifactIndex> {
    this.artifactsMemo ??= this.sources.artifacts(this.inventory, this.options);
    return this.artifactsMemo;
  }
}

export function createClusterRun(inventory: Inventory, options: Partial<ClusterRunOptions> = {}, sources: Partial<ClusterRunSources> = {}): ClusterRun {
  return new ClusterRun(inventory, { dryRun: false, insecureSkipChecksum: false, env: process.env, ...options }, { ...DEFAULT_SOURCES, ...sources });
}

/** The engine's contract, bound to the cluster run context: what every built-in role is written against. */
export type ClusterTaskContext = TaskContext<ClusterRun>;
export type ClusterPlayContext = PlayContext<ClusterRun>;
export type ClusterTask<C extends Change = Change> = Task<C, ClusterRun>;
export type ClusterHandler = Handler<ClusterRun>;
export type ClusterRole = Role<ClusterRun>;
/** What rendering a role's files needs: the renderer and the run (a task's or a play's context). */
export type ClusterRenderContext = Pick<ClusterTaskContext, 'render' | 'run'>;

/**
 * State a role keeps for one run (the preflight play's peers, the verify play's API observer),
 * made on first use. Keyed by the run, so two runs in one process never share it.
 */
export function perRun<T>(make: () => T): (run: ClusterRun) => T {
  const values = new WeakMap<ClusterRun, T>();
  return (run) => {
    let value = values.get(run);
    if (value === undefined) {
      value = make();
      values.set(run, value);
    }
    return value;
  };
}
