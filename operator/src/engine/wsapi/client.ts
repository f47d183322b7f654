// The WSAPI HTTPS client: one session per engine, bounded concurrency, timeouts, retries for reads only.
// - Session: POST /credentials {user, password} → key, sent as X-HP3PAR-WSAPI-SessionKey and reused; a 401/403
//   with code 6 (INV_SESS_KEY, the array dropped the session) logs in again once and repeats the request (it was
//   refused, not applied); close() sends DELETE /credentials/<key>. The password is never logged.
// - TLS: verified against the system store or the given CA bundle; skipped only when asked, with a warning.
// - Retries: with exponential backoff and jitter, only for requests marked idempotent. A create is never sent
//   twice: its caller observes the array first (DOMAIN.md §3.6 cinder does the same).
// - Answers are JSON validated with the caller's zod schema; a malformed answer is an Internal error.
// - Access: a login the array refuses (wrong user or password) or a certificate that does not verify is final
//   (AccessDenied). The client remembers it and fails every later call at once, without contacting the array, so
//   a class with bad credentials costs the array nothing; the registry builds a new engine when the class or its
//   Secret changes.
import { Agent, request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import type { z } from "zod";
import { EngineError, withContext } from "../errors.ts";
import { transportError, wsapiError, type RequestNature } from "./error-map.ts";
import { Semaphore } from "./limiter.ts";
import { credentials, errorBody } from "./schemas.ts";

export type WsapiLogger = (level: "warn" | "info" | "debug", message: string, fields?: Record<string, unknown>) => void;

export interface WsapiClientOptions {
  /** Base URL including /api/v1, e.g. https://array:8080/api/v1. */
  readonly endpoint: string;
  readonly user: string;
  readonly password: string;
  /** PEM bundle; the system trust store when absent. */
  readonly caBundle?: string;
  readonly insecureSkipTLSVerify?: boolean;
  readonly timeoutMs?: number;
  readonly maxConcurrentRequests?: number;
  /** Extra attempts for idempotent requests after a transport error, 5xx or 503. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  readonly logger?: WsapiLogger;
}

export interface Call<T> {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly body?: unknown;
  readonly schema?: z.ZodType<T>;
  readonly idempotent: boolean;
  readonly signal?: AbortSignal | undefined;
}

export interface Answer<T> {
  readonly status: number;
  readonly data: T | undefined;
}

interface Raw {
  readonly status: number;
  readonly text: string;
}

const sessionHeader = "X-HP3PAR-WSAPI-SessionKey";

export class WsapiClient {
  readonly #opts: WsapiClientOptions;
  readonly #agent: Agent;
  readonly #base: URL;
  readonly #limit: Semaphore;
  #key: Promise<string> | undefined;
  #closed = false;
  #denied: EngineError | undefined;

  constructor(opts: WsapiClientOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.endpoint.endsWith("/") ? opts.endpoint : `${opts.endpoint}/`);
    const skip = opts.insecureSkipTLSVerify === true;
    if (skip) opts.logger?.("warn", "TLS verification of the array's certificate is off", { endpoint: opts.endpoint });
    const max = opts.maxConcurrentRequests ?? 4;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: max,
      rejectUnauthorized: !skip,
      ...(opts.caBundle === undefined ? {} : { ca: opts.caBundle }),
    });
    this.#limit = new Semaphore(max);
  }

  /** Sends a call with the session, re-logging in once on an expired key. */
  async call<T>(call: Call<T>): Promise<Answer<T>> {
    if (this.#closed) throw new EngineError("the wsapi engine is closed", { code: "Unavailable", kind: "final" });
    if (this.#denied !== undefined) throw this.#denied;
    const raw = await this.#withRetries(call, async () => {
      const key = await this.#session();
      const first = await this.#send(call, key);
      if (!isExpiredSession(first)) return first;
      this.#opts.logger?.("info", "Renewed the WSAPI session after the array dropped it");
      this.#forget(key);
      return this.#send(call, await this.#session());
    });
    return { status: raw.status, data: this.#parse(call, raw) };
  }

  /** Logs out; later calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const key = this.#key;
    this.#key = undefined;
    try {
      if (key !== undefined)
        await this.#send({ method: "DELETE", path: `credentials/${await key}`, idempotent: true }, undefined);
    } catch {
      // The session expires on the array by itself.
    } finally {
      this.#agent.destroy();
    }
  }

  #session(): Promise<string> {
    this.#key ??= this.#login().catch((e: unknown) => {
      this.#key = undefined;
      throw e;
    });
    return this.#key;
  }

  #forget(key: string): void {
    void this.#key?.then((k) => {
      if (k === key) this.#key = undefined;
    });
    this.#key = undefined;
  }

  async #login(): Promise<string> {
    const call = {
      method: "POST",
      path: "credentials",
      body: { user: this.#opts.user, password: this.#opts.password },
      idempotent: true,
    } as const;
    const raw = await this.#send(call, undefined);
    const parsed = credentials.safeParse(safeJson(raw.text));
    if (raw.status === 401 || raw.status === 403) {
      const refused = this.#refusal(raw, call);
      const message =
        `cannot log in to the array as ${this.#opts.user}: ${refused.message}; fix the ` +
        `username and password in the CopyClass's Secret`;
      throw this.#deny(
        new EngineError(message, {
          code: "AccessDenied",
          ...(refused.arrayCode === undefined ? {} : { arrayCode: refused.arrayCode }),
        }),
      );
    }
    if (raw.status >= 300 || !parsed.success) throw this.#refusal(raw, call, "cannot log in to the array");
    return parsed.data.key;
  }

  /** Remembers an AccessDenied so later calls fail without a request; other errors pass through. */
  #deny<E>(e: E): E {
    if (e instanceof EngineError && e.code === "AccessDenied") {
      this.#denied = e;
      this.#opts.logger?.("warn", "The array refused access; no more requests until the class or its Secret changes", {
        reason: e.message,
      });
    }
    return e;
  }

  async #withRetries(call: Call<unknown>, once: () => Promise<Raw>): Promise<Raw> {
    const attempts = call.idempotent ? 1 + (this.#opts.retries ?? 3) : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const raw = await once();
        if (raw.status < 300) return raw;
        const error = this.#refusal(raw, call);
        if (attempt >= attempts || error.kind !== "retryable") throw error;
      } catch (e: unknown) {
        if (!(e instanceof EngineError) || e.kind !== "retryable" || e.code === "Aborted" || attempt >= attempts)
          throw e;
      }
      await sleep(backoff(attempt, this.#opts.retryBaseMs ?? 200), call.signal);
    }
  }

  #refusal(raw: Raw, call: Call<unknown>, context?: string): EngineError {
    const body = errorBody.safeParse(safeJson(raw.text));
    const nature: RequestNature = { idempotent: call.idempotent };
    const error = wsapiError(
      raw.status,
      body.success ? body.data.code : undefined,
      body.success ? (body.data.desc ?? "") : "",
      nature,
    );
    return context === undefined ? error : withContext(context, error);
  }

  #parse<T>(call: Call<T>, raw: Raw): T | undefined {
    if (call.schema === undefined || raw.text.length === 0) return undefined;
    const parsed = call.schema.safeParse(safeJson(raw.text));
    if (parsed.success) return parsed.data;
    throw new EngineError(
      `unexpected answer to ${call.method} /${call.path}: ${describeIssue(parsed.error.issues[0])}`,
      {
        code: "Internal",
        kind: call.idempotent ? "retryable" : "uncertain",
      },
    );
  }

  #send(call: Call<unknown>, key: string | undefined): Promise<Raw> {
    return this.#limit.run(() => this.#sendNow(call, key));
  }

  #sendNow(call: Call<unknown>, key: string | undefined): Promise<Raw> {
    const url = new URL(call.path, this.#base);
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    const nature = { idempotent: call.idempotent };
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    return new Promise<Raw>((resolve, reject) => {
      const headers: Record<string, string> = { Accept: "application/json" };
      if (payload !== undefined) headers["Content-Type"] = "application/json";
      if (key !== undefined) headers[sessionHeader] = key;
      const req = httpsRequest(
        url,
        {
          method: call.method,
          agent: this.#agent,
          headers,
          timeout: timeoutMs,
          ...(call.signal === undefined ? {} : { signal: call.signal }),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", (e: Error) => {
            reject(
              transportError(`connection lost during ${call.method} /${call.path}: ${e.message}`, nature, false, e),
            );
          });
        },
      );
      req.on("timeout", () => {
        req.destroy(new Error(`no answer within ${timeoutMs} ms`));
      });
      req.on("error", (e: Error) => {
        if (e.name === "AbortError")
          reject(
            new EngineError(`${call.method} /${call.path} aborted`, {
              code: "Aborted",
              kind: call.idempotent ? "retryable" : "uncertain",
              cause: e,
            }),
          );
        else if (isCertificateError(e)) reject(this.#deny(untrusted(e)));
        else
          reject(
            transportError(
              `cannot reach the array (${call.method} /${call.path}): ${e.message}`,
              nature,
              e.message.startsWith("no answer"),
              e,
            ),
          );
      });
      req.end(payload);
    });
  }
}

/** Node's codes for a server certificate that does not verify (tls.TLSSocket authorizationError). */
const certificateCodes: ReadonlySet<string> = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

function isCertificateError(e: Error): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code !== undefined && certificateCodes.has(code);
}

function untrusted(e: Error): EngineError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return new EngineError(
    `the array's certificate is not trusted (${code}: ${e.message}); set the CopyClass's wsapi.caBundle to ` +
      `the CA that signed it`,
    { code: "AccessDenied", cause: e },
  );
}

function isExpiredSession(raw: Raw): boolean {
  if (raw.status !== 401 && raw.status !== 403) return false;
  const body = errorBody.safeParse(safeJson(raw.text));
  // P3C re-authenticates on any 401; a 403 only when the array says the key is invalid (6).
  return raw.status === 401 || (body.success && body.data.code === 6);
}

/** "members.3.sizeMiB: expected number, received undefined": the field that failed, then why. */
export function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return "invalid";
  const where = issue.path.map(String).join(".");
  return where === "" ? issue.message : `${where}: ${issue.message}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function backoff(attempt: number, baseMs: number): number {
  return baseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
