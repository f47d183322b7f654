// The CIM class names, namespaces and instance names the cim driver and the CIM test array share: 3PAR's TPD_
// classes (DOMAIN.md §2), the profiles discovery looks for, and the key bindings of a volume and a job. A volume's
// DeviceID is its name here; on a 3PAR it may be the volume's number (inferred, docs/cim.md).
import { key } from "./model.ts";
import type { InstanceName } from "./xml.ts";

export const classes = {
  system: "TPD_StorageSystem",
  configurationService: "TPD_StorageConfigurationService",
  replicationService: "TPD_ReplicationService",
  volume: "TPD_StorageVolume",
  /** A CPG, where volumes are made (CIM_StoragePool's subclass on 3PAR; inferred, docs/cim.md). */
  pool: "TPD_DynamicStoragePool",
  synchronized: "TPD_StorageSynchronized",
  job: "TPD_ConcreteJob",
  affectedJobElement: "TPD_AffectedJobElement",
  setting: "TPD_StorageSetting",
  profile: "CIM_RegisteredProfile",
  error: "CIM_Error",
  filter: "CIM_IndicationFilter",
  destination: "CIM_ListenerDestinationCIMXML",
  subscription: "CIM_IndicationSubscription",
} as const;

export const profiles = { copyServices: "Copy Services", replicationServices: "Replication Services" } as const;

export const defaultNamespace = "root/tpd";
export const defaultInterop = "interop";

export function volumeName(system: string, device: string): InstanceName {
  return {
    className: classes.volume,
    keys: {
      CreationClassName: key.str(classes.volume),
      DeviceID: key.str(device),
      SystemCreationClassName: key.str(classes.system),
      SystemName: key.str(system),
    },
  };
}

export function jobName(id: string): InstanceName {
  return { className: classes.job, keys: { InstanceID: key.str(id) } };
}

export function serviceName(className: string, system: string): InstanceName {
  return {
    className,
    keys: {
      CreationClassName: key.str(className),
      Name: key.str(className === classes.replicationService ? "ReplicationService" : "StorageConfigurationService"),
      SystemCreationClassName: key.str(classes.system),
      SystemName: key.str(system),
    },
  };
}

/** CreateOrModifyElementFromStoragePool ElementType (SMI-S Block Services): a storage volume. */
export const elementTypes = { StorageVolume: 2 } as const;

/** CreateElementReplica SyncType and Mode (DOMAIN.md §1.2). */
export const syncTypes = { Snapshot: 7, Clone: 8 } as const;
export const modes = { Synchronous: 2, Asynchronous: 3 } as const;
/** RequestStateChange RequestedState (CIM312 p.71). */
export const requestedStates = { Terminate: 4 } as const;
