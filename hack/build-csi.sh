#!/usr/bin/env bash
# Builds the CSI pieces into a cache outside the repository keyed by version: our driver (hack/csi, through
# build-go-tool.sh, keyed by its sources), kubernetes-csi's external-provisioner and csi-test's csi-sanity for the
# node, and external-snapshotter's snapshot-controller and csi-snapshotter for the benchmark's peer (all from the Go
# module proxy). Prints progress while compiling.
#
#   hack/build-csi.sh              # driver, csi-provisioner, csi-sanity
#   hack/build-csi.sh driver       # only the driver
#   hack/build-csi.sh snapshotter  # driver, snapshot-controller, csi-snapshotter (the benchmark's peer)
#
# Output on stdout, one "<what> <path>" a line: "driver", then "provisioner" and "sanity"; or, for snapshotter,
# "snapshot-controller", "csi-snapshotter" and "crds" (the VolumeSnapshot CRDs' directory in the module cache, in
# the client module of the same release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
jobs=${BUILD_JOBS:-2}

log_tag=csi
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

# Built inside a writable copy of the downloaded module itself, so that its own go.mod (with its replace directives,
# which a dependent module would ignore) and go.sum decide every version, as upstream's release build does. Any
# further arguments are `go mod edit` flags applied to the copy once, when it is made.
#   build_in_module BIN_DIR MODULE VERSION PACKAGE OUTPUT [GO_MOD_EDIT_FLAG...]
build_in_module() {
  local bin=$1 mod=$2 ver=$3 pkg=$4 out=$5 work src
  shift 5
  [ -x "$bin/$out" ] && return 0
  mkdir -p "$bin"
  work="$cache/work/$(basename "${mod%/v[0-9]*}")-$ver"
  log "building $out $ver from the Go module proxy (cold: a minute or two on 2 cores)"
  if [ ! -f "$work/go.mod" ]; then
    src=$(GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$src" ] || { log "go mod download $mod@$ver gave no directory"; exit 1; }
    rm -rf "$work.tmp"; cp -r "$src" "$work.tmp"; chmod -R u+w "$work.tmp"
    if [ $# -gt 0 ]; then (cd "$work.tmp" && go mod edit "$@"); fi
    mv "$work.tmp" "$work"
  fi
  ( cd "$work"
    GOFLAGS=-mod=mod go build -v -trimpath -p "$jobs" -ldflags "-s -w -X main.version=$ver" -o "$bin/$out.tmp" \
      "./$pkg" 2>&1 | progress "$out"
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/$out.tmp" "$bin/$out"
}

driver=$(bash "$here/build-go-tool.sh" hack/csi | tail -n1)
echo "driver $driver"
case "${1:-}" in
  driver) ;;
  snapshotter)
    # external-snapshotter's go.mod replaces its client module with ./client, a directory its module zip lacks: the
    # copy requires the client module of the same release from the proxy instead.
    bin="$cache/bin/external-snapshotter-$EXTERNAL_SNAPSHOTTER_VERSION"
    mod=github.com/kubernetes-csi/external-snapshotter
    edit=(-dropreplace="$mod/client/v8" -require="$mod/client/v8@$EXTERNAL_SNAPSHOTTER_VERSION")
    build_in_module "$bin" "$mod/v8" "$EXTERNAL_SNAPSHOTTER_VERSION" cmd/snapshot-controller snapshot-controller \
      "${edit[@]}"
    build_in_module "$bin" "$mod/v8" "$EXTERNAL_SNAPSHOTTER_VERSION" cmd/csi-snapshotter csi-snapshotter "${edit[@]}"
    client=$(GOFLAGS=-mod=mod go mod download -json "$mod/client/v8@$EXTERNAL_SNAPSHOTTER_VERSION" |
      sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -d "$client/config/crd" ] || { log "no config/crd in $mod/client/v8@$EXTERNAL_SNAPSHOTTER_VERSION"; exit 1; }
    echo "snapshot-controller $bin/snapshot-controller"
    echo "csi-snapshotter $bin/csi-snapshotter"
    echo "crds $client/config/crd"
    ;;
  *)
    bin="$cache/bin/csi-provisioner-$EXTERNAL_PROVISIONER_VERSION-csi-test-$CSI_TEST_VERSION"
    build_in_module "$bin" github.com/kubernetes-csi/external-provisioner/v6 "$EXTERNAL_PROVISIONER_VERSION" \
      cmd/csi-provisioner csi-provisioner
    build_in_module "$bin" github.com/kubernetes-csi/csi-test/v5 "$CSI_TEST_VERSION" cmd/csi-sanity csi-sanity
    echo "provisioner $bin/csi-provisioner"
    echo "sanity $bin/csi-sanity"
    ;;
esac
