#!/usr/bin/env bash
# Builds the node's CSI pieces into a cache outside the repository keyed by version: our driver (hack/csi, through
# build-go-tool.sh, keyed by its sources), kubernetes-csi's external-provisioner and csi-test's csi-sanity (both
# from the Go module proxy). Prints progress while compiling.
#
#   hack/build-csi.sh            # driver, csi-provisioner, csi-sanity
#   hack/build-csi.sh driver     # only the driver (the benchmark's peer starts it without a node)
#
# Output: three lines on stdout, "driver <path>", "provisioner <path>", "sanity <path>" (only the first for driver).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
bin="$cache/bin/csi-provisioner-$EXTERNAL_PROVISIONER_VERSION-csi-test-$CSI_TEST_VERSION"
mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
jobs=${BUILD_JOBS:-2}

log_tag=csi
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

# Built inside a writable copy of the downloaded module itself, so that its own go.mod (with its replace directives,
# which a dependent module would ignore) and go.sum decide every version, as upstream's release build does.
#   build_in_module MODULE VERSION PACKAGE OUTPUT
build_in_module() {
  local mod=$1 ver=$2 pkg=$3 out=$4 work src
  [ -x "$bin/$out" ] && return 0
  work="$cache/work/$(basename "${mod%/v[0-9]*}")-$ver"
  log "building $out $ver from the Go module proxy (cold: a minute or two on 2 cores)"
  if [ ! -f "$work/go.mod" ]; then
    src=$(GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$src" ] || { log "go mod download $mod@$ver gave no directory"; exit 1; }
    rm -rf "$work.tmp"; cp -r "$src" "$work.tmp"; chmod -R u+w "$work.tmp"; mv "$work.tmp" "$work"
  fi
  ( cd "$work"
    GOFLAGS=-mod=mod go build -v -trimpath -p "$jobs" -ldflags "-s -w -X main.version=$ver" -o "$bin/$out.tmp" \
      "./$pkg" 2>&1 | progress "$out"
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/$out.tmp" "$bin/$out"
}

driver=$(bash "$here/build-go-tool.sh" hack/csi | tail -n1)
echo "driver $driver"
[ "${1:-}" = driver ] && exit 0
build_in_module github.com/kubernetes-csi/external-provisioner/v6 "$EXTERNAL_PROVISIONER_VERSION" cmd/csi-provisioner \
  csi-provisioner
build_in_module github.com/kubernetes-csi/csi-test/v5 "$CSI_TEST_VERSION" cmd/csi-sanity csi-sanity
echo "provisioner $bin/csi-provisioner"
echo "sanity $bin/csi-sanity"
