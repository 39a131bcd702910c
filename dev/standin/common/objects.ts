/** The parts of Kubernetes API objects the stand-ins read, as zod schemas (unknown fields kept). */
import { z } from 'zod';

export const objectMetaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

export const kubeObjectSchema = z.looseObject({
  kind: z.string().optional(),
  apiVersion: z.string().optional(),
  metadata: objectMetaSchema.optional(),
});
export type KubeObject = z.infer<typeof kubeObjectSchema>;

export const nodeConditionSchema = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastHeartbeatTime: z.string().nullish(),
  lastTransitionTime: z.string().nullish(),
});
export type NodeCondition = z.infer<typeof nodeConditionSchema>;

export const nodeSchema = z.looseObject({
  metadata: objectMetaSchema,
  spec: z.looseObject({ podCIDR: z.string().optional(), unschedulable: z.boolean().optional() }).optional(),
  status: z
    .looseObject({
      conditions: z.array(nodeConditionSchema).nullish(),
      addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).nullish(),
      nodeInfo: z
        .looseObject({
          kubeletVersion: z.string().optional(),
          osImage: z.string().optional(),
          kernelVersion: z.string().optional(),
          containerRuntimeVersion: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});
export type Node = z.infer<typeof nodeSchema>;

export const nodeListSchema = z.looseObject({ items: z.array(nodeSchema).nullish() });

/** The leader-election record client-go v1.13 keeps in an annotation. */
export const leaderRecordSchema = z.object({
  holderIdentity: z.string().default(''),
  leaseDurationSeconds: z.number().int().default(0),
  acquireTime: z.string().nullish(),
  renewTime: z.string().nullish(),
  leaderTransitions: z.number().int().default(0),
});
export type LeaderRecord = z.infer<typeof leaderRecordSchema>;

export const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

/** RFC 3339 with seconds, as metav1.Time marshals. */
export function kubeTime(date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
