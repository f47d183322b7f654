// The copy finalizer, put on by the API server itself as a copy is created: a MutatingAdmissionPolicy
// (admissionregistration.k8s.io/v1, Kubernetes 1.36+) and its binding. The controllers add the finalizer when it is
// missing, so the policy changes no behaviour; it saves the metadata patch each copy would otherwise need on its way
// to Ready, and the watch event and the reconcile that patch sets off. On an API server without the policy's API,
// or with the policy not installed, everything works as before. failurePolicy Ignore: a policy that cannot run
// never refuses a create, and the controller adds the finalizer itself.
//
// Written to deploy/admission/ and to the chart's templates by `npm run crds` (hack/gen-crds.ts).
import { group } from "../../api/common.ts";
import { copyFinalizer } from "./objects.ts";

export const finalizerPolicyName = "arraycopy-finalizer";

/** The kinds whose controllers put the copy finalizer on before they create anything on the array. */
export const finalizedResources = ["virtualcopies", "virtualcopygroups", "physicalcopies"] as const;

/**
 * The policy and its binding, as Kubernetes objects: named `name`, and bound to the namespaces a label selector
 * picks (every namespace when none is given) — the chart's finalizerPolicy.namespaceSelector.
 */
export function finalizerPolicy(
  opts: { readonly name?: string; readonly namespaceSelector?: Record<string, unknown> } = {},
): readonly Record<string, unknown>[] {
  const name = opts.name ?? finalizerPolicyName;
  const lacksFinalizer =
    `!has(object.metadata.finalizers) || ` + `!object.metadata.finalizers.exists(f, f == '${copyFinalizer}')`;
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicy",
      metadata: { name },
      spec: {
        failurePolicy: "Ignore",
        reinvocationPolicy: "Never",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [group], apiVersions: ["*"], operations: ["CREATE"], resources: [...finalizedResources] },
          ],
        },
        matchConditions: [{ name: "lacks-copy-finalizer", expression: lacksFinalizer }],
        mutations: [
          {
            // A JSON patch that appends ours beside any finalizers the creator gave (the match condition has
            // already found ours missing). An ApplyConfiguration would merge the same list by server-side apply's
            // rules, at a higher cost to the API server on every create.
            patchType: "JSONPatch",
            jsonPatch: {
              expression:
                `has(object.metadata.finalizers) ? ` +
                `[JSONPatch{op: 'add', path: '/metadata/finalizers/-', value: '${copyFinalizer}'}] : ` +
                `[JSONPatch{op: 'add', path: '/metadata/finalizers', value: ['${copyFinalizer}']}]`,
            },
          },
        ],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingAdmissionPolicyBinding",
      metadata: { name },
      spec: {
        policyName: name,
        ...(opts.namespaceSelector === undefined
          ? {}
          : { matchResources: { namespaceSelector: opts.namespaceSelector } }),
      },
    },
  ];
}
