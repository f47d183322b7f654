// The CIM test array's indication side — TEST ONLY: CIM_IndicationFilter, CIM_ListenerDestinationCIMXML and
// CIM_IndicationSubscription instances in the interop namespace (CreateInstance, DeleteInstance,
// EnumerateInstances, EnumerateInstanceNames, GetInstance), and delivery: each job change of the backing engine
// (started, finished OK or Error) becomes a TPD_ConcreteJobInstModification that is POSTed as an ExportIndication
// to every subscribed destination. Deliveries that fail (the listener cannot be reached, or refuses) are recorded,
// as a provider would log them; nothing is retried.
import { request } from "node:https";
import { cim, sameName } from "../../operator/src/engine/cim/model.ts";
import { classes } from "../../operator/src/engine/cim/names.ts";
import {
  encodeRequest,
  type Instance,
  type InstanceName,
  type IntrinsicParam,
  type ReturnValue,
} from "../../operator/src/engine/cim/xml.ts";
import { CimFault } from "./server.ts";

export interface Delivery {
  readonly destination: string;
  readonly job: string;
  /** The HTTP status, or the transport error. */
  readonly outcome: number | string;
}

const managed: readonly string[] = [classes.filter, classes.destination, classes.subscription];

let ids = 0;

export class CimSubscriptions {
  readonly #system: string;
  readonly #instances = new Map<string, { name: InstanceName; instance: Instance }[]>(managed.map((c) => [c, []]));
  readonly deliveries: Delivery[] = [];

  constructor(system: string) {
    this.#system = system;
  }

  handles(className: string | undefined): boolean {
    return className !== undefined && managed.includes(className);
  }

  /** The instances of one class, as the provider holds them. */
  list(className: string): readonly { name: InstanceName; instance: Instance }[] {
    return this.#instances.get(className) ?? [];
  }

  /** The provider loses every subscription (a restart without persistence). */
  drop(): void {
    for (const c of managed) this.#instances.set(c, []);
  }

  /** Deliveries that did not get HTTP 200. */
  get failures(): readonly Delivery[] {
    return this.deliveries.filter((d) => d.outcome !== 200);
  }

  intrinsic(method: string, params: Readonly<Record<string, IntrinsicParam>>): ReturnValue {
    const cls = params.ClassName?.kind === "className" ? params.ClassName.className : undefined;
    const name = params.InstanceName?.kind === "name" ? params.InstanceName.name : undefined;
    switch (method) {
      case "EnumerateInstanceNames":
        return { kind: "names", names: this.list(cls ?? "").map((i) => i.name) };
      case "EnumerateInstances":
        return { kind: "instances", instances: [...this.list(cls ?? "")] };
      case "GetInstance": {
        const found = this.#find(name);
        if (found === undefined) throw new CimFault(6, "no such instance");
        return { kind: "instance", instance: found.instance };
      }
      case "DeleteInstance": {
        const list = this.#instances.get(name?.className ?? "");
        const at = list?.findIndex((i) => name !== undefined && sameName(i.name, name)) ?? -1;
        if (list === undefined || at < 0) throw new CimFault(6, "no such instance");
        list.splice(at, 1);
        return { kind: "none" };
      }
      case "CreateInstance": {
        if (params.NewInstance?.kind !== "instance") throw new CimFault(4, "NewInstance is required");
        return { kind: "name", name: this.create(params.NewInstance.instance) };
      }
    }
    throw new CimFault(7, `${method} is not supported in the interop namespace`);
  }

  /** Adds an instance as CreateInstance does (tests use it for someone else's subscriptions). */
  create(i: Instance): InstanceName {
    const list = this.#instances.get(i.className);
    if (list === undefined) throw new CimFault(5, `no class ${i.className}`);
    const p = i.properties;
    let name: InstanceName;
    if (i.className === classes.subscription) {
      const filter = p.Filter?.kind === "ref" ? p.Filter.ref : null;
      const handler = p.Handler?.kind === "ref" ? p.Handler.ref : null;
      if (filter === null || this.#find(filter) === undefined) throw new CimFault(4, "Filter does not exist");
      if (handler === null || this.#find(handler) === undefined) throw new CimFault(4, "Handler does not exist");
      name = {
        className: i.className,
        keys: { Filter: { kind: "ref", ref: filter }, Handler: { kind: "ref", ref: handler } },
      };
    } else {
      const n = p.Name?.kind === "scalar" ? p.Name.text : null;
      if (n === null) throw new CimFault(4, "Name is required");
      if (i.className === classes.filter && (p.Query === undefined || p.QueryLanguage === undefined))
        throw new CimFault(4, "Query and QueryLanguage are required");
      if (i.className === classes.destination && p.Destination?.kind !== "scalar")
        throw new CimFault(4, "Destination is required");
      name = {
        className: i.className,
        keys: {
          CreationClassName: { kind: "scalar", type: "string", text: i.className },
          Name: { kind: "scalar", type: "string", text: n },
          SystemCreationClassName: { kind: "scalar", type: "string", text: "CIM_ComputerSystem" },
          SystemName: { kind: "scalar", type: "string", text: this.#system },
        },
      };
    }
    if (list.some((x) => sameName(x.name, name))) throw new CimFault(11, "the instance exists");
    list.push({ name, instance: i });
    return name;
  }

  #find(name: InstanceName | undefined): { name: InstanceName; instance: Instance } | undefined {
    if (name === undefined) return undefined;
    return this.#instances.get(name.className)?.find((i) => sameName(i.name, name));
  }

  /** Sends a job's modification to every subscribed destination; resolves when all have answered or failed. */
  async deliver(job: Instance): Promise<void> {
    const id = job.properties.InstanceID?.kind === "scalar" ? (job.properties.InstanceID.text ?? "") : "";
    const indication: Instance = {
      className: "TPD_ConcreteJobInstModification",
      properties: {
        IndicationIdentifier: cim.str(`TPD:${++ids}`),
        IndicationTime: cim.time(Date.now()),
        SourceInstance: cim.embedded(job),
      },
    };
    const body = encodeRequest({ kind: "export", id: String(ids), indication });
    const targets = this.list(classes.subscription).flatMap((s) => {
      const h = s.name.keys.Handler;
      const dest = h?.kind === "ref" ? this.#find(h.ref) : undefined;
      const url = dest?.instance.properties.Destination;
      return url?.kind === "scalar" && url.text !== null ? [url.text] : [];
    });
    await Promise.all(
      targets.map(async (destination) => {
        this.deliveries.push({ destination, job: id, outcome: await post(destination, body) });
      }),
    );
  }
}

/** One POST; the status or the transport error's code. The test array does not verify the listener's certificate. */
function post(url: string, body: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "POST",
        rejectUnauthorized: false,
        timeout: 5_000,
        headers: {
          "Content-Type": 'application/xml; charset="utf-8"',
          CIMExport: "MethodRequest",
          CIMExportMethod: "ExportIndication",
          "Content-Length": Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e: NodeJS.ErrnoException) => {
      resolve(e.code ?? e.message);
    });
    req.end(body);
  });
}
