/**
 * Static pods from `staticPodPath` (v1.13's file source): every file not starting with a dot holds
 * one pod as YAML or JSON. Each becomes a pod named `<name>-<nodeName>`, namespace `default` when
 * unset, UID = the hash of node, file and content (so a changed file is a new pod), with the
 * annotations kubernetes.io/config.hash, config.source = file and config.seen; the mirror pod the
 * kubelet creates in the API server is that pod plus kubernetes.io/config.mirror.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import { HASH_ANNOTATION, MIRROR_ANNOTATION, podSchema, SEEN_ANNOTATION, SOURCE_ANNOTATION, toPod, type Pod, type PodInput } from './pod-spec.js';

export interface StaticPod {
  file: string;
  pod: Pod;
}

function rfc3339Nano(d: Date): string {
  return `${d.toISOString().slice(0, 23)}${String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0')}Z`;
}

export class StaticPodSource {
  /** When each pod (by hash) was first seen: kept across re-reads, as config.seen is. */
  private readonly seen = new Map<string, string>();
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly dir: string | undefined,
    private readonly nodeName: string,
    private readonly log: Logger,
  ) {}

  read(): StaticPod[] {
    if (!this.dir) return [];
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch (err) {
      this.log.error(`Unable to read config path "${this.dir}": ${messageOf(err)}`);
      return [];
    }
    const out: StaticPod[] = [];
    const hashes = new Set<string>();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = path.join(this.dir, name);
      try {
        if (!statSync(file).isFile()) continue;
        const text = readFileSync(file, 'utf8');
        const parsed = podSchema.safeParse(parseYaml(text));
        if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        const pod = this.staticPod(file, parsed.data);
        hashes.add(pod.uid);
        out.push({ file, pod });
        this.reported.delete(file);
      } catch (err) {
        const why = messageOf(err);
        if (this.reported.get(file) !== why) this.log.error(`Can't process manifest file "${file}": ${why}`);
        this.reported.set(file, why);
      }
    }
    for (const h of this.seen.keys()) if (!hashes.has(h)) this.seen.delete(h);
    return out;
  }

  private staticPod(file: string, input: PodInput): Pod {
    const hash = createHash('md5').update(`host:${this.nodeName}`).update(`file:${file}`).update(JSON.stringify(input)).digest('hex');
    let seen = this.seen.get(hash);
    if (!seen) this.seen.set(hash, (seen = rfc3339Nano(new Date())));
    const named: PodInput = {
      ...input,
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...input.metadata,
        name: `${input.metadata.name}-${this.nodeName}`,
        namespace: input.metadata.namespace || 'default',
        uid: hash,
        annotations: { ...(input.metadata.annotations ?? {}), [HASH_ANNOTATION]: hash, [SEEN_ANNOTATION]: seen, [SOURCE_ANNOTATION]: 'file' },
      },
      spec: { ...input.spec, nodeName: this.nodeName },
    };
    return toPod(named, hash);
  }
}

/** The mirror pod the kubelet posts for a static pod. */
export function mirrorPodObject(pod: Pod): Record<string, unknown> {
  const { uid: _uid, resourceVersion: _rv, ...metadata } = pod.raw.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, annotations: { ...pod.annotations, [MIRROR_ANNOTATION]: pod.uid } },
    spec: pod.raw.spec,
  };
}
