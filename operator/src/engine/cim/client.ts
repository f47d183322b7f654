// The CIM-XML client (DSP0200 over HTTPS, basic authentication): the intrinsic operations the driver needs
// (EnumerateInstanceNames, EnumerateInstances, GetInstance, Associators, References, CreateInstance,
// DeleteInstance) and extrinsic methods through InvokeMethod. Each call is one POST to <endpoint>/cimom with the
// CIMOperation / CIMMethod / CIMObject headers. Failures become EngineErrors (errors.ts): a CIM status code in an
// ERROR element (with the array's own code when an embedded CIM_Error carries one), an HTTP 401 (wrong
// credentials, final and remembered so later calls cost the array nothing), a certificate that does not verify,
// or a transport failure (retryable for reads; uncertain for a method that may have been applied). Reads are
// retried; a method call is never sent twice.
import { Agent, request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import { EngineError, withContext } from "../errors.ts";
import { cimStatusError } from "./codes.ts";
import {
  CimXmlError,
  decodeResponse,
  encodeRequest,
  type CimValue,
  type Instance,
  type InstanceName,
  type IntrinsicParam,
  type NamedInstance,
  type ReturnValue,
} from "./xml.ts";

export type CimLogger = (level: "warn" | "info" | "debug", message: string, fields?: Record<string, unknown>) => void;

export interface CimClientOptions {
  /** https://host:5989 (the CIM server's base URL; /cimom is appended). */
  readonly endpoint: string;
  readonly user: string;
  readonly password: string;
  readonly caBundle?: string;
  readonly insecureSkipTLSVerify?: boolean;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly logger?: CimLogger;
}

export interface MethodResult {
  readonly returnValue: number;
  readonly out: Readonly<Record<string, CimValue>>;
}

export interface AssociatorsQuery {
  readonly assocClass?: string;
  readonly resultClass?: string;
  readonly role?: string;
  readonly resultRole?: string;
}

const tlsCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export class CimClient {
  readonly #opts: CimClientOptions;
  readonly #agent: Agent;
  readonly #url: URL;
  #id = 1000;
  #denied: EngineError | undefined;

  constructor(opts: CimClientOptions) {
    this.#opts = opts;
    this.#url = new URL("cimom", opts.endpoint.endsWith("/") ? opts.endpoint : `${opts.endpoint}/`);
    const skip = opts.insecureSkipTLSVerify === true;
    if (skip)
      opts.logger?.("warn", "TLS verification of the CIM server's certificate is off", { endpoint: opts.endpoint });
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: 4,
      rejectUnauthorized: !skip,
      ...(opts.caBundle === undefined ? {} : { ca: opts.caBundle }),
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  async enumerateInstanceNames(namespace: string, className: string, signal?: AbortSignal): Promise<InstanceName[]> {
    const r = await this.#intrinsic(
      namespace,
      "EnumerateInstanceNames",
      { ClassName: { kind: "className", className } },
      signal,
    );
    return r.kind === "names" ? [...r.names] : [];
  }

  async enumerateInstances(namespace: string, className: string, signal?: AbortSignal): Promise<NamedInstance[]> {
    const r = await this.#intrinsic(
      namespace,
      "EnumerateInstances",
      { ClassName: { kind: "className", className } },
      signal,
    );
    return r.kind === "instances" ? [...r.instances] : [];
  }

  /** The instance, or undefined when the CIM server answers CIM_ERR_NOT_FOUND. */
  async getInstance(namespace: string, name: InstanceName, signal?: AbortSignal): Promise<Instance | undefined> {
    try {
      const r = await this.#intrinsic(namespace, "GetInstance", { InstanceName: { kind: "name", name } }, signal);
      if (r.kind !== "instance") throw new EngineError("GetInstance returned no instance", { code: "Internal" });
      return r.instance;
    } catch (e: unknown) {
      if (e instanceof EngineError && e.code === "NotFound" && e.arrayCode === undefined) return undefined;
      throw e;
    }
  }

  async associators(
    namespace: string,
    name: InstanceName,
    q: AssociatorsQuery,
    signal?: AbortSignal,
  ): Promise<NamedInstance[]> {
    return this.#related("Associators", namespace, name, q, signal);
  }

  async references(
    namespace: string,
    name: InstanceName,
    q: AssociatorsQuery,
    signal?: AbortSignal,
  ): Promise<NamedInstance[]> {
    return this.#related("References", namespace, name, q, signal);
  }

  async #related(
    method: "Associators" | "References",
    namespace: string,
    name: InstanceName,
    q: AssociatorsQuery,
    signal?: AbortSignal,
  ): Promise<NamedInstance[]> {
    const params: Record<string, IntrinsicParam> = { ObjectName: { kind: "name", name } };
    const assoc = method === "Associators" ? q.assocClass : undefined;
    const result = method === "Associators" ? q.resultClass : q.assocClass;
    if (assoc !== undefined) params.AssocClass = { kind: "className", className: assoc };
    if (result !== undefined) params.ResultClass = { kind: "className", className: result };
    if (q.role !== undefined) params.Role = { kind: "value", text: q.role };
    if (method === "Associators" && q.resultRole !== undefined)
      params.ResultRole = { kind: "value", text: q.resultRole };
    const r = await this.#intrinsic(namespace, method, params, signal);
    return r.kind === "instances" ? [...r.instances] : [];
  }

  async createInstance(namespace: string, instance: Instance, signal?: AbortSignal): Promise<InstanceName> {
    const r = await this.#intrinsic(
      namespace,
      "CreateInstance",
      { NewInstance: { kind: "instance", instance } },
      signal,
      false,
    );
    if (r.kind === "name") return r.name;
    if (r.kind === "names" && r.names[0] !== undefined) return r.names[0];
    throw new EngineError("CreateInstance returned no instance name", { code: "Internal", kind: "uncertain" });
  }

  async deleteInstance(namespace: string, name: InstanceName, signal?: AbortSignal): Promise<void> {
    await this.#intrinsic(namespace, "DeleteInstance", { InstanceName: { kind: "name", name } }, signal, false);
  }

  /** An extrinsic method; the return value is the caller's to interpret (codes.ts methodError). */
  async invokeMethod(
    namespace: string,
    target: InstanceName,
    method: string,
    params: Readonly<Record<string, CimValue>>,
    signal?: AbortSignal,
  ): Promise<MethodResult> {
    const body = encodeRequest({ kind: "extrinsic", id: this.#nextId(), method, namespace, target, params });
    const r = await this.#send(body, method, objectPath(namespace, target), false, signal);
    if (r.kind !== "method")
      throw new EngineError(`${method} returned no RETURNVALUE`, { code: "Internal", kind: "uncertain" });
    const v = r.value;
    const code = v.kind === "scalar" && v.text !== null ? Number(v.text) : NaN;
    if (!Number.isInteger(code))
      throw new EngineError(`${method} returned a RETURNVALUE that is not a number`, {
        code: "Internal",
        kind: "uncertain",
      });
    return { returnValue: code, out: r.out };
  }

  async #intrinsic(
    namespace: string,
    method: string,
    params: Readonly<Record<string, IntrinsicParam>>,
    signal: AbortSignal | undefined,
    idempotent = true,
  ): Promise<ReturnValue> {
    const body = encodeRequest({ kind: "intrinsic", id: this.#nextId(), method, namespace, params });
    return this.#send(body, method, namespace, idempotent, signal);
  }

  #nextId(): string {
    return String(++this.#id);
  }

  async #send(
    body: string,
    method: string,
    object: string,
    idempotent: boolean,
    signal?: AbortSignal,
  ): Promise<ReturnValue> {
    if (this.#denied !== undefined) throw this.#denied;
    const attempts = idempotent ? (this.#opts.retries ?? 2) + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once(body, method, object, idempotent, signal);
      } catch (e: unknown) {
        const retry = e instanceof EngineError && e.kind === "retryable" && e.code !== "Aborted" && attempt < attempts;
        if (!retry) throw e;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }

  async #once(
    body: string,
    method: string,
    object: string,
    idempotent: boolean,
    signal?: AbortSignal,
  ): Promise<ReturnValue> {
    if (signal?.aborted === true) throw new EngineError(`${method} aborted before it was sent`, { code: "Aborted" });
    const auth = Buffer.from(`${this.#opts.user}:${this.#opts.password}`).toString("base64");
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        this.#url,
        {
          method: "POST",
          agent: this.#agent,
          timeout: this.#opts.timeoutMs ?? 30_000,
          headers: {
            "Content-Type": 'application/xml; charset="utf-8"',
            Authorization: `Basic ${auth}`,
            CIMOperation: "MethodCall",
            CIMMethod: method,
            CIMObject: encodeURIComponent(object),
            "Content-Length": Buffer.byteLength(body),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(body);
    }).catch((e: unknown) => {
      throw this.#transportError(method, idempotent, e);
    });
    if (status === 401) {
      this.#denied = new EngineError(
        `the CIM server refused user ${this.#opts.user}: wrong user name or password (HTTP 401)`,
        {
          code: "AccessDenied",
        },
      );
      throw this.#denied;
    }
    if (status !== 200) {
      throw new EngineError(`${method}: the CIM server answered HTTP ${status}`, {
        code: status >= 500 ? "Unavailable" : "Internal",
        kind: status >= 500 && idempotent ? "retryable" : status >= 500 ? "uncertain" : "final",
      });
    }
    let decoded;
    try {
      decoded = decodeResponse(text);
    } catch (e: unknown) {
      if (e instanceof CimXmlError)
        throw new EngineError(`${method}: ${e.message}`, {
          code: "Internal",
          kind: idempotent ? "final" : "uncertain",
        });
      throw e;
    }
    if ("error" in decoded) throw cimStatusError(method, decoded.error);
    return decoded.ok;
  }

  #transportError(method: string, idempotent: boolean, e: unknown): EngineError {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && tlsCodes.has(code)) {
      this.#denied = new EngineError(`the CIM server's certificate does not verify (${code})`, {
        code: "AccessDenied",
        cause: e,
      });
      return this.#denied;
    }
    const timedOut = code === "ETIMEDOUT";
    const detail = e instanceof Error ? e.message : String(e);
    return withContext(
      method,
      new EngineError(`cannot reach the CIM server: ${detail}`, {
        code: timedOut ? "Timeout" : "Unavailable",
        kind: idempotent ? "retryable" : "uncertain",
        cause: e,
      }),
    );
  }
}

/** The CIMObject header of an extrinsic call: namespace:Class.Key="value",… (DSP0200 §4.4.3, untyped form). */
function objectPath(namespace: string, n: InstanceName): string {
  const keys = Object.entries(n.keys)
    .map(([k, v]) => `${k}=${v.kind === "scalar" ? JSON.stringify(v.text) : JSON.stringify(v.ref.className)}`)
    .join(",");
  return `${namespace}:${n.className}${keys === "" ? "" : `.${keys}`}`;
}
