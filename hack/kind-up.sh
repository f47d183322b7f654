#!/usr/bin/env bash
# For users with Docker (or Podman) and kind: create a kind cluster, build the operator's image, load it into the
# nodes, and install the chart with it. Untested here: this project's machines have no container engine (the chart
# and the built operator are tested against a real kube-apiserver instead; docs/install.md).
#
#   hack/kind-up.sh           # cluster "arraycopy", image arraycopy:dev, release arraycopy in arraycopy-system
#   hack/kind-up.sh down      # delete the cluster
#
# Needs: kind (>= 0.27), docker (or KIND_EXPERIMENTAL_PROVIDER=podman), kubectl, helm 3. Override the node image
# with KIND_NODE_IMAGE when kindest/node has no build of our Kubernetes version yet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cluster=${KIND_CLUSTER:-arraycopy}
image=${IMAGE:-arraycopy:dev}
namespace=${NAMESPACE:-arraycopy-system}

log() { printf '[kind-up] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { log "$1 is required: $2"; exit 1; }; }

if [ "${1:-}" = down ]; then
  kind delete cluster --name "$cluster"
  exit 0
fi

need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need docker "kind runs its nodes as containers"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need helm "https://helm.sh/docs/intro/install/"

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "cluster $cluster exists; reusing it"
else
  log "creating cluster $cluster"
  args=(--name "$cluster" --config "$here/kind-config.yaml" --wait 120s)
  [ -n "${KIND_NODE_IMAGE:-}" ] && args+=(--image "$KIND_NODE_IMAGE")
  kind create cluster "${args[@]}"
fi
kubectl config use-context "kind-$cluster" >/dev/null

log "building image $image"
docker build -t "$image" "$root"
log "loading $image into the nodes"
kind load docker-image "$image" --name "$cluster"

log "installing the chart into $namespace"
helm upgrade --install arraycopy "$root/charts/arraycopy" --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never --wait --timeout 5m

kubectl -n "$namespace" get pods -o wide
log "ready: kubectl apply -f $root/examples/snapshot-before-upgrade.yaml (with examples/source-volume.yaml), then kubectl get arraycopy -A"
