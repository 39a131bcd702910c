/**
 * A range allocator kept in etcd as v1.13 keeps its service IPs and node ports: one RangeAllocation
 * object (`/registry/ranges/serviceips`, `/registry/ranges/servicenodeports`) whose bitmap is
 * changed only by compare-and-swap on its mod revision, so several apiservers never hand out the
 * same value. A missing object is created from what the existing services hold (v1.13's repair).
 */
import { randomInt } from 'node:crypto';
import { kubeTime } from '../common/objects.js';
import type { EtcdClient } from './etcd.js';
import { RangeBitmap } from './range-bitmap.js';

const ATTEMPTS = 10;

export class RangeFull extends Error {}
export class AlreadyAllocated extends Error {}

export class RangeAllocator {
  constructor(
    private readonly etcd: EtcdClient,
    private readonly key: string,
    /** The range as the RangeAllocation's `range` names it (10.96.0.0/12, 30000-32767). */
    readonly label: string,
    readonly size: number,
    /** Offsets the stored objects hold, for a bitmap that does not exist yet. */
    private readonly inUse: () => Promise<number[]>,
  ) {}

  private async read(): Promise<{ bitmap: RangeBitmap; modRevision: number }> {
    const { kv } = await this.etcd.get(this.key);
    if (kv) {
      const stored = JSON.parse(kv.value) as { data?: string };
      return { bitmap: new RangeBitmap(this.size, Buffer.from(stored.data ?? '', 'base64')), modRevision: kv.modRevision };
    }
    const bitmap = new RangeBitmap(this.size);
    for (const i of await this.inUse()) if (i >= 0 && i < this.size) bitmap.set(i);
    return { bitmap, modRevision: 0 };
  }

  private async write(bitmap: RangeBitmap, modRevision: number): Promise<boolean> {
    const value = JSON.stringify({ kind: 'RangeAllocation', apiVersion: 'v1', metadata: { creationTimestamp: kubeTime() }, range: this.label, data: bitmap.encode().toString('base64') });
    return (await this.etcd.putIf(this.key, value, modRevision)) !== undefined;
  }

  /** Takes `offset`, or any free one when undefined; returns the offset taken. */
  async allocate(offset?: number): Promise<number> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { bitmap, modRevision } = await this.read();
      let taken: number;
      if (offset !== undefined) {
        if (bitmap.has(offset)) throw new AlreadyAllocated();
        taken = offset;
      } else {
        const free = bitmap.firstFree(randomInt(this.size));
        if (free === undefined) throw new RangeFull();
        taken = free;
      }
      bitmap.set(taken);
      if (await this.write(bitmap, modRevision)) return taken;
    }
    throw new Error(`${this.key}: too many concurrent allocations, try again`);
  }

  async release(offset: number): Promise<void> {
    if (offset < 0 || offset >= this.size) return;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { bitmap, modRevision } = await this.read();
      if (!bitmap.has(offset)) return;
      bitmap.clear(offset);
      if (await this.write(bitmap, modRevision)) return;
    }
  }
}
