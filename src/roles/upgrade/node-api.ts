/**
 * The Node objects an upgrade reads and changes, through kubectl with the admin kubeconfig on the
 * first control-plane host (the node being upgraded delegates these steps there, as Kubespray's
 * `delegate_to: groups['kube_control_plane'][0]` does): cordon and drain before its kubelet is
 * replaced, uncordon after its health gate; the kubelet version and readiness it reports.
 *
 * A node kprov cordons carries the annotation `kprov.io/upgrade-cordoned`, and only such a node is
 * uncordoned afterwards: a node an administrator had cordoned stays cordoned.
 */
import { z } from 'zod';
import type { ClusterTaskContext } from '../../cluster/run.js';
import { HostStepError } from '../../engine/errors.js';
import { KprovError } from '../../errors.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { execKubectl, outcome, outputTail, verifyPaths, type VerifyPaths } from '../verify/tools.js';

export const CORDONED_BY_UPGRADE = 'kprov.io/upgrade-cordoned';

const nodeSchema = z.looseObject({
  metadata: z.looseObject({ annotations: z.record(z.string(), z.string()).nullish() }),
  spec: z.looseObject({ unschedulable: z.boolean().nullish() }).nullish(),
  status: z
    .looseObject({
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish(),
      nodeInfo: z.looseObject({ kubeletVersion: z.string().nullish() }).nullish(),
    })
    .nullish(),
});

export interface UpgradeNodeState {
  unschedulable: boolean;
  ready: boolean;
  kubeletVersion: string | undefined;
  cordonedByUpgrade: boolean;
}

export function parseUpgradeNode(text: string): UpgradeNodeState | undefined {
  if (text.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KprovError('host', `kubectl printed no JSON for the node: ${text.trim().slice(0, 200)}`);
  }
  const parsed = nodeSchema.safeParse(json);
  if (!parsed.success) throw new KprovError('host', `unexpected node from kubectl: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const n = parsed.data;
  return {
    unschedulable: n.spec?.unschedulable === true,
    ready: (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status === 'True',
    kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? undefined,
    cordonedByUpgrade: n.metadata.annotations?.[CORDONED_BY_UPGRADE] !== undefined,
  };
}

/** kubectl on the first control-plane host, for steps about `ctx.host`. */
export interface ApiDriver {
  host: RemoteHost;
  paths: VerifyPaths;
  kubectl(args: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  node(name: string): Promise<UpgradeNodeState | undefined>;
}

export async function apiDriver(ctx: ClusterTaskContext): Promise<ApiDriver> {
  const driver = ctx.run.topology.controlPlane[0];
  if (!driver) throw new KprovError('internal', 'the cluster has no control-plane host');
  if (!ctx.delegateTo) throw new KprovError('internal', `${ctx.host.name}: the engine offers no delegation here`);
  const host = await ctx.delegateTo(driver.name);
  const paths = verifyPaths(ctx.run.topology, driver);
  const kubectl = (args: readonly string[], timeoutMs = 60_000) => execKubectl(host, paths, args, { timeoutMs });
  return {
    host,
    paths,
    kubectl,
    async node(name) {
      const r = await kubectl(['get', 'node', name, '-o', 'json', '--ignore-not-found']);
      if (r.code !== 0) throw new HostStepError(ctx.host.name, `reading node ${name} on ${driver.name}: kubectl get ${outcome(r)}`, outputTail(r));
      return parseUpgradeNode(r.stdout);
    },
  };
}
