// What every reconciler is given by main.ts: the caches it reads, the writers it uses and the engines it drives.
// Controllers see engines only through EngineProvider (built by engine/registry.ts), never a driver.
import type { Logger } from "pino";
import type { Engine } from "../../engine/port.ts";
import type { Clock } from "../../kube/clock.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Informer } from "../../kube/informer.ts";
import type { ResolvedClass } from "./classes.ts";
import type {
  CopyClassObject,
  CopyJobObject,
  CopyScheduleObject,
  PhysicalCopyObject,
  VirtualCopyGroupObject,
  VirtualCopyObject,
} from "./objects.ts";
import type { VolumeResolver } from "./sources.ts";

export interface EngineProvider {
  /** The engine of a class, built once per class generation and reused; throws when the class is unusable. */
  engineFor(cls: ResolvedClass): Promise<Engine>;
}

export interface Caches {
  readonly classes: Informer<CopyClassObject>;
  readonly virtualCopies: Informer<VirtualCopyObject>;
  readonly groups: Informer<VirtualCopyGroupObject>;
  readonly physicalCopies: Informer<PhysicalCopyObject>;
  readonly jobs: Informer<CopyJobObject>;
  readonly schedules: Informer<CopyScheduleObject>;
}

export interface ControllerContext {
  readonly caches: Caches;
  readonly engines: EngineProvider;
  readonly volumes: VolumeResolver;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly log: Logger;
}
