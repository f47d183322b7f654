#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd (and helm on request) from the Go module proxy into a cache outside the
# repository, keyed by version, so a warm machine skips the build. Prints progress while compiling.
#
#   hack/build-control-plane.sh            # apiserver + kubectl + etcd
#   hack/build-control-plane.sh helm       # helm as well
#
# Output: the cache directory on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
bin="$cache/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
mkdir -p "$bin"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
jobs=${BUILD_JOBS:-2}

log_tag=control-plane
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

# A throw-away module that requires k8s.io/kubernetes and replaces each staging module (./staging/... upstream)
# with its published v0.X.Y twin, generated from the tag's own go.mod.
kube_module() {
  local dir=$1 staging="v0.${K8S_VERSION#v1.}" gomod m
  mkdir -p "$dir"; cd "$dir"
  [ -f go.mod ] && return 0
  go mod init local.build/kubernetes >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  go mod edit -go="$(sed -n 's/^go //p' "$gomod")" -godebug="$(sed -n 's/^godebug //p' "$gomod")"
  for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*|\1|p' "$gomod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  log "resolving k8s.io/kubernetes $K8S_VERSION module graph (first time downloads ~1 GiB of modules)"
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2
}

kube_ldflags() {
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldf="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldf+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$ldf"
}

build_kube() {
  local name=$1 work="$cache/work/k8s-$K8S_VERSION"
  [ -x "$bin/$name" ] && return 0
  log "building $name $K8S_VERSION (cold: several minutes on 2 cores)"
  ( kube_module "$work"
    go build -v -trimpath -p "$jobs" -ldflags "$(kube_ldflags)" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name" 2>&1 \
      | progress "$name"
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/$name.tmp" "$bin/$name"
}

build_etcd() {
  local work="$cache/work/etcd-$ETCD_VERSION"
  [ -x "$bin/etcd" ] && return 0
  log "building etcd $ETCD_VERSION"
  ( mkdir -p "$work"; cd "$work"
    [ -f go.mod ] || { go mod init local.build/etcd >/dev/null 2>&1; go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2; }
    go build -v -trimpath -p "$jobs" -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 2>&1 | progress etcd
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/etcd.tmp" "$bin/etcd"
}

# helm's Makefile stamps its version and the Kubernetes version it assumes when no cluster is asked (helm template,
# helm lint: .Capabilities.KubeVersion and the deprecation rules) with -X flags; without them `helm version` says
# v3.22 and those commands act as if on Kubernetes v1.20, failing any chart whose kubeVersion asks for more. Same
# derivation as the Makefile: major = client-go's major + 1, minor = client-go's minor.
helm_ldflags() {
  local cg major minor ldf="-s -w" p
  cg=$(go list -m -f '{{.Version}}' k8s.io/client-go); cg=${cg#v}
  major=$((${cg%%.*} + 1)); minor=${cg#*.}; minor=${minor%%.*}
  ldf+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldf+=" -X $p.k8sVersionMajor=$major -X $p.k8sVersionMinor=$minor"
  done
  printf '%s' "$ldf"
}

build_helm() {
  local work="$cache/work/helm-$HELM_VERSION"
  [ -x "$bin/helm" ] && return 0
  log "building helm $HELM_VERSION (cold: about 1.5 minutes on 2 cores)"
  ( mkdir -p "$work"; cd "$work"
    [ -f go.mod ] || { go mod init local.build/helm >/dev/null 2>&1; go get -tool "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2; }
    go build -v -trimpath -p "$jobs" -ldflags "$(helm_ldflags)" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm 2>&1 | progress helm
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/helm.tmp" "$bin/helm"
}

start=$SECONDS
build_etcd
build_kube kube-apiserver
build_kube kubectl
[ "${1:-}" = helm ] && build_helm
log "binaries ready in $bin ($((SECONDS - start))s)"
echo "$bin"
