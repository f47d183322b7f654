// CopyClass (cluster-scoped): which array and driver copies use, with the driver's parameters, a Secret holding
// credentials and the default deletion policy. One class may be marked default with the annotation
// arraycopy.io/is-default-class: "true". Modelled on VolumeSnapshotClass, with typed per-driver parameters so
// the apiserver validates them.
import { z } from "zod";
import { conditions, deletionPolicy, objectName, withRules } from "./common.ts";

export const defaultClassAnnotation = "arraycopy.io/is-default-class";

const cpgName = z
  .string()
  .min(1)
  .max(31)
  .regex(/^[A-Za-z0-9_.-]+$/);

export const secretRef = z
  .object({
    name: objectName.describe("Name of the Secret."),
    namespace: objectName.describe("Namespace of the Secret."),
  })
  .describe("A Secret with keys `username` and `password`.");

export const embeddedParameters = z
  .object({
    dataDir: z
      .string()
      .max(4096)
      .regex(/^\//)
      .optional()
      .describe("Directory the embedded engine keeps its volumes in. Defaults to <operator data dir>/<class name>."),
    maxConcurrentCopies: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(2)
      .describe("Physical copies running at once; more are queued (SyncState Initialized). The array runs two."),
  })
  .describe("Parameters of the embedded engine: a real copy engine over sparse files, for laptops, CI and demos.");

export const wsapiParameters = z
  .object({
    endpoint: z
      .string()
      .max(2048)
      .regex(/^https:\/\/[^\s/]+(:[0-9]+)?(\/.*)?$/)
      .describe("WSAPI base URL, e.g. https://array.example.com:8080/api/v1 (port 443 on Primera and Alletra)."),
    credentialsSecretRef: secretRef,
    cpg: cpgName.describe("CPG in which online physical copies create their targets."),
    snapCPG: cpgName.optional().describe("CPG for snapshot space of created targets."),
    caBundle: z
      .string()
      .max(65_536)
      .optional()
      .describe("PEM CA bundle to verify the array's certificate. Defaults to the system's trust store."),
    insecureSkipTLSVerify: z
      .boolean()
      .default(false)
      .describe("Skip verification of the array's certificate. Never in production: the operator logs a warning."),
  })
  .describe("Parameters of the WSAPI driver for HPE 3PAR, Primera and Alletra arrays.");

export const cimParameters = z
  .object({
    endpoint: z
      .string()
      .max(2048)
      .regex(/^https:\/\/[^\s/]+(:[0-9]+)?\/?$/)
      .describe("The SMI-S provider's base URL, e.g. https://array.example.com:5989 (3PAR's CIM server)."),
    credentialsSecretRef: secretRef,
    namespace: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/)
      .default("root/tpd")
      .describe("The CIM namespace of the array's objects."),
    interopNamespace: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/)
      .default("interop")
      .describe("The interop namespace where the provider registers its profiles (CIM_RegisteredProfile)."),
    caBundle: z
      .string()
      .max(65_536)
      .optional()
      .describe("PEM CA bundle to verify the provider's certificate. Defaults to the system's trust store."),
    insecureSkipTLSVerify: z
      .boolean()
      .default(false)
      .describe("Skip verification of the provider's certificate. Never in production: the operator logs a warning."),
  })
  .describe("Parameters of the cim driver: an SMI-S provider's CIM-XML API (Copy Services profile).");

export const copyClassSpec = withRules(
  z.object({
    driver: z.enum(["embedded", "wsapi", "cim"]).describe("The engine driving the array: embedded, wsapi or cim."),
    embedded: embeddedParameters.optional(),
    wsapi: wsapiParameters.optional(),
    cim: cimParameters.optional(),
    csiDriver: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
      .default("csi.hpe.com")
      .describe(
        "CSI driver whose PersistentVolumes this class can copy: a PVC source resolves to its bound PV, which must " +
          "be of this driver; csiVolumeHandle says how the PV names its array volume.",
      ),
    csiVolumeHandle: z
      .enum(["ArrayVolumeName", "HPE3PARCSP"])
      .optional()
      .describe(
        "How a PV of csiDriver names its array volume. ArrayVolumeName: the volumeHandle is the array volume's " +
          "name. HPE3PARCSP: the HPE CSI driver with its 3PAR / Primera / Alletra CSP, whose volumeHandle is the " +
          "PV's name (pvc-<uid>); the array volume is the one the CSP recorded for it (HPEVolumeInfo), else the " +
          "handle's first 31 characters, and must be on the array. Default: the engine's (HPE3PARCSP for wsapi " +
          "and cim, ArrayVolumeName for embedded).",
      ),
    deletionPolicy: deletionPolicy
      .default("Delete")
      .describe("Default deletion policy of copies made with this class: Delete or Retain."),
  }),
  {
    rule: "self.driver == 'wsapi' ? has(self.wsapi) : !has(self.wsapi)",
    message: "wsapi parameters are required with driver wsapi, and only with it",
    fieldPath: ".wsapi",
    check: (v) => (v.driver === "wsapi") === (v.wsapi !== undefined),
  },
  {
    rule: "self.driver == 'cim' ? has(self.cim) : !has(self.cim)",
    message: "cim parameters are required with driver cim, and only with it",
    fieldPath: ".cim",
    check: (v) => (v.driver === "cim") === (v.cim !== undefined),
  },
  {
    rule: "self.driver == 'embedded' || !has(self.embedded)",
    message: "embedded parameters apply only to driver embedded",
    fieldPath: ".embedded",
    check: (v) => v.driver === "embedded" || v.embedded === undefined,
  },
  { rule: "self.driver == oldSelf.driver", message: "driver is immutable", fieldPath: ".driver" },
).describe("Which array and driver copies of this class use.");

export const copyClassStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional(),
    conditions: conditions.optional(),
  })
  .describe("Whether the operator could build an engine for this class.");

export const copyClass = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({}).loose().optional(),
  spec: copyClassSpec,
  status: copyClassStatus.optional(),
});
export type CopyClassSpec = z.infer<typeof copyClassSpec>;
export type CopyClassStatus = z.infer<typeof copyClassStatus>;
