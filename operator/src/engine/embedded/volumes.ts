// Volume operations of the embedded engine (the port's optional "volumes" capability): create, grow, delete,
// read and write at byte offsets. Writes go through the store's copy-on-write path and are durable when they
// return. A physical copy's target refuses writes while it is being copied or still associated (the array
// refuses to export it: INV_OPERATION_VLUN_PCOPY_TARGET_VV), and a volume being restored refuses them too.
import { arrayError } from "../errors.ts";
import type { VolumeObservation, VolumeSetObservation } from "../port.ts";
import type { Copies } from "./copies.ts";
import type { Core } from "./core.ts";
import { checkName, checkSize } from "./rules.ts";
import type { LiveNode } from "./view.ts";

export class Volumes {
  private readonly core: Core;
  private readonly copies: Copies;

  constructor(core: Core, copies: Copies) {
    this.core = core;
    this.copies = copies;
  }

  async create(name: string, sizeBytes: number): Promise<VolumeObservation> {
    checkName(name);
    checkSize(sizeBytes);
    if (this.core.store.get(name) !== undefined) throw arrayError("EXISTENT_VOL", `volume ${name} already exists`);
    const node = this.core.addNode({
      name,
      sizeBytes,
      layout: "overlay",
      parent: undefined,
      readOnly: false,
      internal: false,
    });
    await this.core.save();
    return this.observe(node);
  }

  async resize(name: string, sizeBytes: number): Promise<VolumeObservation> {
    const node = this.core.requireNode(name);
    checkSize(sizeBytes);
    if (node.record.readOnly)
      throw arrayError("INV_OPERATION_VV_READONLY_SNAPSHOT", `${name} is a read-only virtual copy`);
    if (sizeBytes < node.record.sizeBytes)
      throw arrayError("INV_INPUT_BELOW_RANGE", `volumes only grow: ${name} has ${node.record.sizeBytes} bytes`);
    if (this.core.copyTargetState(name) === "copying")
      throw arrayError("INV_OPERATION_VV_PCOPY_IN_PROGRESS", `${name} is being copied onto`);
    if (this.core.restoringOnto(name) !== undefined)
      throw arrayError("INV_OPERATION_VV_PROMOTE_IN_PROGRESS", `a virtual copy is being promoted onto ${name}`);
    if (sizeBytes !== node.record.sizeBytes) {
      node.record.sizeBytes = sizeBytes;
      await this.core.save();
    }
    return this.observe(node);
  }

  async remove(name: string): Promise<void> {
    const set = [...this.core.catalog.volumeSets()].find((v) => v.members.includes(name));
    if (set !== undefined) throw arrayError("IN_USE", `volume ${name} is a member of volume set ${set.name}`);
    await this.copies.remove(name, true);
  }

  async createSet(name: string, members: readonly string[]): Promise<VolumeSetObservation> {
    checkName(name);
    if (this.core.volumeSet(name) !== undefined) throw arrayError("EXISTENT_SET", `volume set ${name} exists`);
    if (new Set(members).size !== members.length) throw arrayError("INV_INPUT", "a volume is named twice in the set");
    for (const m of members) this.core.requireNode(m);
    const record = { name, members: [...members] };
    this.core.catalog.put("volumeSets", record);
    await this.core.save();
    return { name, members: [...members] };
  }

  async removeSet(name: string): Promise<void> {
    if (this.core.volumeSet(name) === undefined) return;
    this.core.catalog.remove("volumeSets", name);
    await this.core.save();
  }

  observeSet(name: string): VolumeSetObservation | undefined {
    const set = this.core.volumeSet(name);
    return set === undefined ? undefined : { name: set.name, members: [...set.members] };
  }

  async read(name: string, offset: number, length: number): Promise<Buffer> {
    const node = this.core.requireNode(name);
    this.checkRange(node, offset, length);
    return this.core.store.read(node, offset, length);
  }

  async write(name: string, offset: number, data: Uint8Array): Promise<void> {
    const node = this.core.requireNode(name);
    this.checkRange(node, offset, data.length);
    if (node.record.readOnly)
      throw arrayError("INV_OPERATION_VV_READONLY_SNAPSHOT", `${name} is a read-only virtual copy`);
    if (this.core.copyTargetState(name) !== undefined) {
      throw arrayError("INV_OPERATION_VLUN_PCOPY_TARGET_VV", `${name} is a physical copy target; detach it first`);
    }
    if (this.core.restoringOnto(name) !== undefined || this.core.copy(name)?.activeJob !== undefined) {
      throw arrayError("INV_OPERATION_VV_PROMOTE_IN_PROGRESS", `a promote involving ${name} is running`);
    }
    await this.core.store.write(node, offset, data);
  }

  /** A volume the array shows (not an internal one) by its exact name. */
  observeOne(name: string): VolumeObservation | undefined {
    const node = this.core.store.get(name);
    return node === undefined || node.record.internal ? undefined : this.observe(node);
  }

  list(): VolumeObservation[] {
    return [...this.core.store.all()].filter((n) => !n.record.internal).map((n) => this.observe(n));
  }

  private checkRange(node: LiveNode, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw arrayError("INV_INPUT", `offset ${offset} and length ${length} must be whole non-negative numbers`);
    }
    if (offset + length > node.record.sizeBytes) {
      throw arrayError(
        "INV_INPUT_EXCEEDS_RANGE",
        `bytes ${offset}–${offset + length} lie past the end of ${node.record.name} (${node.record.sizeBytes})`,
      );
    }
  }

  private observe(node: LiveNode): VolumeObservation {
    return {
      name: node.record.name,
      sizeBytes: node.record.sizeBytes,
      readOnly: node.record.readOnly,
      copyOf: node.record.parent ?? this.core.copy(node.record.name)?.source,
      contentComplete: node.record.contentComplete,
    };
  }
}
