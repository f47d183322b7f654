#!/usr/bin/env bash
# For users with Docker (or Podman) and kind: create a kind cluster, build the operator's image from the repository's
# Dockerfile (the same file `npm run image` builds with buildah), load it into the nodes, and install the chart with
# it. This project's machines have no container engine, so only the plan is tested here: `--dry-run` prints every
# command instead of running it, and test/integration/kind-up.test.ts renders the chart with the printed helm flags.
#
#   hack/kind-up.sh             # cluster "arraycopy", image arraycopy:dev, release arraycopy in arraycopy-system
#   hack/kind-up.sh --dry-run   # print the commands (one per line, shell-quoted) and run none
#   hack/kind-up.sh down        # delete the cluster
#
# Needs: kind (>= 0.27), docker with BuildKit (the Dockerfile uses RUN --mount; or KIND_EXPERIMENTAL_PROVIDER=podman
# with IMAGE_BUILDER=podman), kubectl, helm 3. Override the node image with KIND_NODE_IMAGE when kindest/node has no
# build of our Kubernetes version yet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cluster=${KIND_CLUSTER:-arraycopy}
image=${IMAGE:-arraycopy:dev}
namespace=${NAMESPACE:-arraycopy-system}
builder=${IMAGE_BUILDER:-docker}

dry_run=false
action=up
for arg in "$@"; do
  case $arg in
    --dry-run) dry_run=true ;;
    down) action=down ;;
    *) printf '[kind-up] unknown argument %q (expected --dry-run or down)\n' "$arg" >&2; exit 2 ;;
  esac
done

case $image in
  *:*) ;;
  *) printf '[kind-up] IMAGE=%q needs a tag (name:tag): kind load and pullPolicy Never need an exact name\n' "$image" >&2
     exit 2 ;;
esac

log() { printf '[kind-up] %s\n' "$*" >&2; }
# Runs a command, or with --dry-run prints it shell-quoted on stdout.
run() {
  if $dry_run; then printf '%q ' "$@" | sed 's/ $//'; printf '\n'; else "$@"; fi
}
need() {
  command -v "$1" >/dev/null && return 0
  if $dry_run; then log "note: $1 is not installed ($2)"; else log "$1 is required: $2"; exit 1; fi
}

if [ "$action" = down ]; then
  run kind delete cluster --name "$cluster"
  exit 0
fi

need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need "$builder" "kind runs its nodes as containers, and the image is built with it"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need helm "https://helm.sh/docs/intro/install/"

if ! $dry_run && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "cluster $cluster exists; reusing it"
else
  log "creating cluster $cluster"
  args=(--name "$cluster" --config "$here/kind-config.yaml" --wait 120s)
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then args+=(--image "$KIND_NODE_IMAGE"); fi
  run kind create cluster "${args[@]}"
fi
run kubectl config use-context "kind-$cluster"

log "building image $image from $root/Dockerfile"
if [ "$builder" = docker ]; then
  DOCKER_BUILDKIT=1 run docker build --file "$root/Dockerfile" --tag "$image" "$root"
  log "loading $image into the nodes"
  run kind load docker-image "$image" --name "$cluster"
else
  # Podman: kind loads an image archive.
  archive="${TMPDIR:-/tmp}/arraycopy-kind-image.tar"
  run "$builder" build --file "$root/Dockerfile" --tag "$image" "$root"
  run "$builder" save --output "$archive" "$image"
  log "loading $image into the nodes"
  run kind load image-archive "$archive" --name "$cluster"
fi

log "installing the chart into $namespace"
run helm upgrade --install arraycopy "$root/charts/arraycopy" --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never --wait --timeout 5m

run kubectl -n "$namespace" get pods -o wide
log "ready: kubectl apply -f $root/examples/source-volume.yaml -f $root/examples/snapshot-before-upgrade.yaml, then kubectl get arraycopy -A"
