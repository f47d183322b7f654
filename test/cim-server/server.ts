// A CIM test array on 127.0.0.1 over HTTPS — TEST ONLY, never shipped: a CIM-XML server (DSP0200) with 3PAR's
// class names (TPD_StorageVolume, TPD_StorageSynchronized, TPD_ConcreteJob, TPD_StorageConfigurationService,
// TPD_ReplicationService) and CIM_RegisteredProfile in the interop namespace, backed by an embedded engine so
// copies move real bytes. Basic authentication; a wrong password is HTTP 401. An engine refusal becomes a
// CIM_ERR_FAILED ERROR with an embedded CIM_Error (OwningEntity TPD, MessageID the 3PAR symbol); `faults.method`
// makes named methods return a code instead (4 Failed, 5 Invalid Parameter, 6 In Use). The array has no owners:
// each engine create gets its own uid and the driver's tag lives in the volume's Comment, as on a real array.
// Indication subscriptions live in the interop namespace (indications.ts); every start and end of a backing
// engine's job is delivered to the subscribed listeners as a TPD_ConcreteJobInstModification.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { EngineError } from "../../operator/src/engine/errors.ts";
import { cim } from "../../operator/src/engine/cim/model.ts";
import { classes, defaultInterop, defaultNamespace, profiles } from "../../operator/src/engine/cim/names.ts";
import {
  decodeRequest,
  encodeResponse,
  type CimErrorElement,
  type Request,
  type Response,
  type ReturnValue,
} from "../../operator/src/engine/cim/xml.ts";
import { servingCert } from "../wsapi-server/cert.ts";
import { CimSubscriptions } from "./indications.ts";
import { CimArrayModel, systemName } from "./model.ts";

export interface CimFaults {
  /** Method name → the return code it answers with, without applying anything. */
  method: Map<string, number>;
}

export interface CimTestArray {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly ca: string;
  readonly user: string;
  readonly password: string;
  readonly namespace: string;
  readonly engine: EmbeddedEngine;
  readonly faults: CimFaults;
  /** Every method seen, "Intrinsic" or extrinsic name. */
  readonly requests: string[];
  /** The class of every EnumerateInstances, in order (the driver's job poll enumerates TPD_ConcreteJob). */
  readonly enumerated: string[];
  /** The interop namespace's filters, destinations and subscriptions, and the deliveries made to them. */
  readonly subscriptions: CimSubscriptions;
  /** Every volume ReturnToStoragePool deleted, in order. */
  readonly deleted: readonly string[];
  close(): Promise<void>;
}

export interface CimTestArrayOptions {
  readonly engine: EmbeddedEngine;
  readonly user?: string;
  readonly password?: string;
  /** The profiles registered in the interop namespace; Copy Services and Replication Services by default. */
  readonly profiles?: readonly string[];
}

export class CimFault extends Error {
  readonly code: number;
  constructor(code: number, description: string) {
    super(description);
    this.code = code;
  }
}

function cimError(e: unknown): CimErrorElement {
  if (e instanceof CimFault) return { code: e.code, description: e.message, instances: [] };
  if (!(e instanceof EngineError))
    return { code: 1, description: e instanceof Error ? e.message : String(e), instances: [] };
  let inner: EngineError = e;
  while (inner.cause instanceof EngineError) inner = inner.cause;
  const message = inner.message.replace(/ \([^()]*\)$/, "");
  const code = e.code === "NotFound" ? 6 : e.code === "InvalidInput" ? 4 : 1;
  if (e.arraySymbol === undefined) return { code, description: message, instances: [] };
  return {
    code: 1,
    description: message,
    instances: [
      {
        className: classes.error,
        properties: {
          OwningEntity: cim.str("TPD"),
          MessageID: cim.str(e.arraySymbol),
          Message: cim.str(message),
          CIMStatusCode: cim.u32(1),
        },
      },
    ],
  };
}

export async function startCimTestArray(options: CimTestArrayOptions): Promise<CimTestArray> {
  const user = options.user ?? "3paradm";
  const password = options.password ?? "3pardata";
  const model = new CimArrayModel(options.engine);
  const registered = options.profiles ?? [profiles.copyServices, profiles.replicationServices, "Array"];
  const faults: CimFaults = { method: new Map() };
  const requests: string[] = [];
  const enumerated: string[] = [];
  const { cert, key } = servingCert();
  const subscriptions = new CimSubscriptions(systemName);
  const sending = new Set<Promise<void>>();
  const unsubscribe = options.engine.subscribe((ind) => {
    if (ind.kind === "Progress") return;
    const p = subscriptions.deliver(model.jobInstance(ind.job)).finally(() => sending.delete(p));
    sending.add(p);
  });
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  async function answer(r: Request): Promise<ReturnValue> {
    if (r.kind === "export") throw new CimFault(7, "this server is no listener");
    if (r.namespace !== defaultNamespace && r.namespace !== defaultInterop)
      throw new CimFault(3, `namespace ${r.namespace} does not exist`);
    if (r.kind === "intrinsic") {
      if (r.namespace === defaultInterop) {
        const cls = r.params.ClassName;
        const named = r.params.InstanceName ?? r.params.NewInstance;
        const target =
          cls?.kind === "className"
            ? cls.className
            : named?.kind === "name"
              ? named.name.className
              : named?.kind === "instance"
                ? named.instance.className
                : undefined;
        if (subscriptions.handles(target)) return subscriptions.intrinsic(r.method, r.params);
        if (r.method === "EnumerateInstances" && cls?.kind === "className" && cls.className === classes.profile)
          return {
            kind: "instances",
            instances: registered.map((name, i) => ({
              name: {
                className: "TPD_RegisteredProfile",
                keys: { InstanceID: { kind: "scalar", type: "string", text: `TPD:${i}` } },
              },
              instance: {
                className: "TPD_RegisteredProfile",
                properties: {
                  RegisteredName: cim.str(name),
                  RegisteredOrganization: cim.u16(11),
                  RegisteredVersion: cim.str("1.4.0"),
                },
              },
            })),
          };
        throw new CimFault(5, `no such class in ${defaultInterop}`);
      }
      return model.intrinsic(r.method, r.params);
    }
    const injected = faults.method.get(r.method);
    if (injected !== undefined) return { kind: "method", value: cim.u32(injected), out: {} };
    return model.extrinsic(r.method, r.target, r.params);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="cimom"' });
      res.end();
      return;
    }
    const request = decodeRequest(Buffer.concat(chunks).toString("utf8"));
    const method = request.kind === "export" ? "ExportIndication" : request.method;
    requests.push(method);
    const cls = request.kind === "intrinsic" ? request.params.ClassName : undefined;
    if (method === "EnumerateInstances" && cls?.kind === "className") enumerated.push(cls.className);
    let response: Response;
    try {
      response = { id: request.id, method, ok: await answer(request) };
    } catch (e: unknown) {
      response = { id: request.id, method, error: cimError(e) };
    }
    const body = encodeResponse(response, request.kind);
    res.writeHead(200, { "Content-Type": 'application/xml; charset="utf-8"', CIMOperation: "MethodResponse" });
    res.end(body);
  }

  const server: Server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(400);
      res.end(e instanceof Error ? e.message : String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    ca: cert,
    user,
    password,
    namespace: defaultNamespace,
    engine: options.engine,
    faults,
    requests,
    enumerated,
    deleted: model.deleted,
    subscriptions,
    close: async () => {
      unsubscribe();
      await Promise.all(sending);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
