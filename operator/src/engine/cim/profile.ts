// Discovery (SMI-S Server profile): CIM_RegisteredProfile in the interop namespace says which method set the
// provider supports. Copy Services (CreateReplica, AttachOrModifyReplica, ModifySynchronization) is required;
// Replication Services (CreateElementReplica) adds online physical copies. The services and the system name
// come from the array's namespace. A provider without Copy Services, a namespace that does not exist and
// wrong credentials are final errors with a message that names them.
import { EngineError, isEngineError } from "../errors.ts";
import type { CimClient } from "./client.ts";
import { keyText, plain } from "./model.ts";
import { classes, profiles } from "./names.ts";
import { registeredProfile } from "./schemas.ts";
import type { InstanceName } from "./xml.ts";

export interface Discovery {
  readonly profiles: readonly string[];
  readonly system: string;
  readonly configurationService: InstanceName;
  readonly replicationService: InstanceName | undefined;
}

async function inNamespace<T>(namespace: string, what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e: unknown) {
    if (isEngineError(e) && /CIM_ERR_INVALID_NAMESPACE/.test(e.message))
      throw new EngineError(`the CIM namespace ${namespace} does not exist on the provider (${what})`, {
        code: "InvalidInput",
        cause: e,
      });
    throw e;
  }
}

export async function discover(
  client: CimClient,
  namespace: string,
  interop: string,
  signal?: AbortSignal,
): Promise<Discovery> {
  const registered = await inNamespace(interop, "interop namespace", () =>
    client.enumerateInstances(interop, classes.profile, signal),
  );
  const names = registered.flatMap((r) => {
    const p = registeredProfile.safeParse(plain(r.instance));
    return p.success ? [p.data.RegisteredName] : [];
  });
  if (!names.includes(profiles.copyServices)) {
    const has = names.length === 0 ? "none" : names.join(", ");
    throw new EngineError(`the provider does not register the ${profiles.copyServices} profile (it registers ${has})`, {
      code: "Unsupported",
    });
  }
  const config = await inNamespace(namespace, "array namespace", () =>
    client.enumerateInstanceNames(namespace, classes.configurationService, signal),
  );
  const service = config[0];
  const system = service === undefined ? undefined : keyText(service, "SystemName");
  if (service === undefined || system === undefined)
    throw new EngineError(`the provider has no ${classes.configurationService} in ${namespace}`, {
      code: "Unsupported",
    });
  const replication = names.includes(profiles.replicationServices)
    ? (await client.enumerateInstanceNames(namespace, classes.replicationService, signal))[0]
    : undefined;
  return { profiles: names, system, configurationService: service, replicationService: replication };
}
