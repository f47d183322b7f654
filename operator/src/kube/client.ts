// API clients built from a KubeConfig with every request passing through our RequestThrottle.
//
// Why not `kc.makeApiClient`: it builds its Configuration itself and takes no middleware, so its requests would
// bypass the throttle. We build the Configuration the way client-node 2.x's makeApiClient does (base server from
// the current cluster, the KubeConfig as the `default` auth method, which applies TLS and credentials per request)
// and add the throttle as a promise middleware. Watches do not go through these clients (client-node's Watch uses
// fetch directly) and are therefore not throttled, which matches client-go, where a watch is one long request.
//
// Invariant: one Configuration is shared by all clients made here, and the RestWriter takes its tokens from the same
// RequestThrottle, so they share one token bucket and the qps / burst configured is the operator's total, not a
// per-API figure.

import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  ServerConfiguration,
  StorageV1Api,
  createConfiguration,
  setHeaderMiddleware,
} from "@kubernetes/client-node";
import type {
  Configuration,
  KubeConfig,
  Middleware,
  RequestContext,
  SecurityAuthentication,
} from "@kubernetes/client-node";
import type { RequestThrottle } from "./ratelimit.ts";
import { restWriter, type RestRequest, type RestWriter } from "./rest.ts";

export interface Clients {
  readonly customObjects: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly events: EventsV1Api;
  readonly coordination: CoordinationV1Api;
  readonly storage: StorageV1Api;
  /**
   * The hot path's writes (status applies, Events, metadata patches) without fetch and without reading the
   * response (rest.ts); undefined where it cannot reach the cluster (a proxy), and then client-node's clients do it.
   */
  readonly rest: RestWriter | undefined;
}

export interface ClientOptions {
  /** Client-side rate limit; none leaves flow control to the API server (Priority and Fairness). */
  readonly throttle?: RequestThrottle | undefined;
  /** Sent as User-Agent, e.g. "arraycopy-operator/0.1.0". */
  readonly userAgent?: string;
  /** Extra promise middleware after the throttle (tests count requests with one). */
  readonly middleware?: readonly Middleware[];
  /** Called as each request of `rest` goes on the wire, after the throttle (tests count requests with it). */
  readonly onRestRequest?: (req: RestRequest) => void;
}

/**
 * The KubeConfig as the auth method, with one connection pool: client-node 2.0.1's applySecurityAuthentication
 * builds a new undici Agent for every request (read in its config.js), so every API call paid a TCP connect and
 * a TLS handshake, on both sides. The first Agent it builds is kept and reused (keep-alive, pooled connections);
 * the headers it sets (tokens, refreshed by exec or OIDC plugins) are still applied per request. A kubeconfig
 * whose client certificate rotates while the operator runs would need a restart.
 */
export function pooledAuth(kc: KubeConfig): SecurityAuthentication {
  let dispatcher: ReturnType<RequestContext["getDispatcher"]>;
  return {
    getName: () => "default",
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kc.applySecurityAuthentication(context);
      dispatcher ??= context.getDispatcher();
      if (dispatcher !== undefined) context.setDispatcher(dispatcher);
    },
  };
}

/** The Configuration every client shares; throws when the KubeConfig has no current cluster. */
export function throttledConfiguration(kc: KubeConfig, opts: ClientOptions): Configuration {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("cannot build API clients: the kubeconfig has no current cluster");
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: pooledAuth(kc) },
    middleware: [setHeaderMiddleware("User-Agent", opts.userAgent ?? "arraycopy-operator")],
    promiseMiddleware: [
      ...(opts.throttle === undefined ? [] : [opts.throttle.middleware()]),
      ...(opts.middleware ?? []),
    ],
  });
}

export function makeClients(kc: KubeConfig, opts: ClientOptions): Clients {
  const config = throttledConfiguration(kc, opts);
  return {
    customObjects: new CustomObjectsApi(config),
    core: new CoreV1Api(config),
    events: new EventsV1Api(config),
    coordination: new CoordinationV1Api(config),
    storage: new StorageV1Api(config),
    rest: restWriter(kc, { throttle: opts.throttle, userAgent: opts.userAgent, onRequest: opts.onRestRequest }),
  };
}
