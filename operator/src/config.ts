// Operator configuration: command-line flags over environment variables over defaults, parsed once by a zod
// schema; a bad value stops the operator at start with a message naming the flag.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65_535);

export const configSchema = z.object({
  kubeconfig: z.string().optional().describe("kubeconfig file; default: KUBECONFIG, then in-cluster"),
  dataDir: z.string().min(1).describe("directory of the embedded engines' volumes (one subdirectory per CopyClass)"),
  metricsPort: port.describe("port of /metrics, /healthz and /readyz (0 picks a free one)"),
  workers: z.coerce.number().int().min(1).max(256).describe("concurrent reconciles per controller"),
  qps: z.coerce
    .number()
    .min(0)
    .max(100_000)
    .describe(
      "client-side limit on API requests per second; 0 (default) relies on the API server's Priority and " +
        "Fairness, as controller-runtime does",
    ),
  burst: z.coerce.number().int().min(1).max(100_000).describe("API requests in a burst, when --qps is set"),
  leaderElect: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .describe("use Lease leader election"),
  leaseNamespace: z.string().min(1).describe("namespace of the leader-election Lease"),
  leaseName: z.string().min(1).describe("name of the leader-election Lease"),
  identity: z.string().min(1).describe("this replica's name in the Lease and in Events"),
  labelLeaderPod: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .describe(
      "label this replica's pod (--identity in --lease-namespace) arraycopy.io/leader=true while it leads, " +
        "for a Service that must reach the leader only",
    ),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error"]).describe("trace, debug, info, warn or error"),
  populatorImage: z
    .string()
    .optional()
    .describe("image of the populator pods that make PVCs from copies (the operator's own); unset: no populator"),
  populatorNamespace: z
    .string()
    .min(1)
    .optional()
    .describe("namespace of the populator's pods, PVC′s and token Secrets; default: --lease-namespace"),
  populatorPort: port.describe("port of the populator pods' data path (served only with --populator-image)"),
  populatorAddress: z
    .url({ protocol: /^https$/ })
    .optional()
    .describe(
      "https URL populator pods reach this replica at (its host is in the data path's certificate); " +
        "default https://$POD_IP:<populator-port>",
    ),
  cimListenerPort: port.optional().describe("port of the HTTPS listener for cim job indications; unset: no listener"),
  cimListenerUrl: z
    .url({ protocol: /^https$/ })
    .optional()
    .describe("the listener's https URL as the arrays reach it (a NodePort or LoadBalancer address)"),
  cimListenerCertFile: z.string().optional().describe("listener certificate (PEM); unset: self-signed at start"),
  cimListenerKeyFile: z.string().optional().describe("listener private key (PEM), with --cim-listener-cert-file"),
});
export type Config = z.infer<typeof configSchema>;

const flags = {
  kubeconfig: "KUBECONFIG",
  "data-dir": "ARRAYCOPY_DATA_DIR",
  "metrics-port": "ARRAYCOPY_METRICS_PORT",
  workers: "ARRAYCOPY_WORKERS",
  qps: "ARRAYCOPY_KUBE_QPS",
  burst: "ARRAYCOPY_KUBE_BURST",
  "leader-elect": "ARRAYCOPY_LEADER_ELECT",
  "lease-namespace": "POD_NAMESPACE",
  "lease-name": "ARRAYCOPY_LEASE_NAME",
  identity: "POD_NAME",
  "label-leader-pod": "ARRAYCOPY_LABEL_LEADER_POD",
  "log-level": "ARRAYCOPY_LOG_LEVEL",
  "populator-image": "ARRAYCOPY_POPULATOR_IMAGE",
  "populator-namespace": "ARRAYCOPY_POPULATOR_NAMESPACE",
  "populator-port": "ARRAYCOPY_POPULATOR_PORT",
  "populator-address": "ARRAYCOPY_POPULATOR_ADDRESS",
  "cim-listener-port": "ARRAYCOPY_CIM_LISTENER_PORT",
  "cim-listener-url": "ARRAYCOPY_CIM_LISTENER_URL",
  "cim-listener-cert-file": "ARRAYCOPY_CIM_LISTENER_CERT_FILE",
  "cim-listener-key-file": "ARRAYCOPY_CIM_LISTENER_KEY_FILE",
} as const;

const defaults: Record<keyof typeof flags, string | undefined> = {
  kubeconfig: undefined,
  "data-dir": "/var/lib/arraycopy",
  "metrics-port": "8080",
  workers: "16",
  qps: "0",
  burst: "400",
  "leader-elect": "true",
  "lease-namespace": "arraycopy-system",
  "lease-name": "arraycopy-operator",
  identity: `${hostname()}-${process.pid}`,
  "label-leader-pod": "false",
  "log-level": "info",
  "populator-image": undefined,
  "populator-namespace": undefined,
  "populator-port": "8081",
  "populator-address": undefined,
  "cim-listener-port": undefined,
  "cim-listener-url": undefined,
  "cim-listener-cert-file": undefined,
  "cim-listener-key-file": undefined,
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Parses argv and env; throws an Error whose message lists every bad flag. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(Object.keys(flags).map((f) => [f, { type: "string" as const }])),
    strict: true,
  });
  const raw: Record<string, unknown> = {};
  for (const [flag, envName] of Object.entries(flags) as [keyof typeof flags, string][]) {
    const v = values[flag] ?? env[envName] ?? defaults[flag];
    if (v !== undefined && v !== "") raw[camel(flag)] = v;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`,
    );
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  if (c.cimListenerPort !== undefined && c.cimListenerUrl === undefined)
    throw new Error("invalid configuration: --cim-listener-url: required with --cim-listener-port");
  if ((c.cimListenerCertFile === undefined) !== (c.cimListenerKeyFile === undefined))
    throw new Error("invalid configuration: --cim-listener-cert-file and --cim-listener-key-file go together");
  return c;
}

/**
 * `--help`: every flag with its environment variable, default and meaning, from the schema. `script` is how the
 * operator was started (operator/src/main.ts from the source, dist/main.js from the bundle, as in the image).
 */
export function usage(script = "operator/src/main.ts"): string {
  const shape = configSchema.shape as Record<string, { description?: string }>;
  const rows = (Object.entries(flags) as [keyof typeof flags, string][]).map(([flag, envName]) => {
    const d = defaults[flag];
    const about = shape[camel(flag)]?.description ?? "";
    return `  --${flag.padEnd(19)} ${envName.padEnd(24)} ${(d === undefined ? "" : `[${d}]`).padEnd(22)} ${about}`;
  });
  return [
    `usage: node ${script} [flags]   (flags override environment variables, which override defaults)`,
    "",
    ...rows,
    "",
  ].join("\n");
}
