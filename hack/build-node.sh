#!/usr/bin/env bash
# Builds what the one-node cluster runs beside the control plane, into a cache outside the repository keyed by
# version: kubelet, kube-controller-manager and kube-scheduler (from the control plane's throw-away k8s.io/kubernetes
# module), containerd 2.x with its runc shim and ctr (from the Go module proxy), and the pod sandbox's pause binary
# (hack/node/pause.go). Installs the Debian packages it needs when missing: runc, the CNI plugins, nftables, iproute2.
#
# Output: the cache directory on the last line of stdout. With the argument `packages`, installs the Debian packages
# only (as root; nothing is printed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
bin="$cache/bin/node-k8s-$K8S_VERSION-containerd-$CONTAINERD_VERSION"
mkdir -p "$bin"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
jobs=${BUILD_JOBS:-2}

log_tag=node
# shellcheck source=build-lib.sh
source "$here/build-lib.sh"

# Debian packages: runc (crun refuses cgroup v1 hybrid mode), the CNI plugins (bridge, portmap, host-local), nft
# for the Service IP rule, ip for the bridge, busybox for the provisioner's helper image.
debian_packages() {
  local missing=() p
  for p in runc:/usr/sbin/runc containernetworking-plugins:/usr/lib/cni/bridge nftables:/usr/sbin/nft \
    iproute2:/usr/sbin/ip busybox-static:/bin/busybox util-linux:/usr/bin/nsenter util-linux:/usr/sbin/losetup \
    e2fsprogs:/usr/sbin/mkfs.ext4; do
    [ -x "${p#*:}" ] || missing+=("${p%%:*}")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing from Debian: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then log "not root: install ${missing[*]} yourself"; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  }
}

# The control plane's module (build-control-plane.sh made it and resolved its graph): add the node's commands to it.
build_kube() {
  local name=$1 work="$cache/work/k8s-$K8S_VERSION"
  [ -x "$bin/$name" ] && return 0
  [ -f "$work/go.mod" ] || { log "run hack/build-control-plane.sh first (it makes $work)"; exit 1; }
  log "building $name $K8S_VERSION (cold: a few minutes on 2 cores)"
  ( cd "$work"
    grep -q "k8s.io/kubernetes/cmd/$name\$" go.mod || go get -tool "k8s.io/kubernetes/cmd/$name@$K8S_VERSION" >&2
    go build -v -trimpath -p "$jobs" -ldflags "$(kube_ldflags)" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name" 2>&1 \
      | progress "$name"
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/$name.tmp" "$bin/$name"
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

# containerd's version package is stamped the way its Makefile does; the build tags leave out the snapshotters that
# need cgo or kernel features these machines lack (overlayfs and native remain).
build_containerd() {
  local work="$cache/work/containerd-$CONTAINERD_VERSION" m=github.com/containerd/containerd/v2 c
  [ -x "$bin/containerd" ] && [ -x "$bin/containerd-shim-runc-v2" ] && [ -x "$bin/ctr" ] && return 0
  log "building containerd $CONTAINERD_VERSION (cold: about 2 minutes on 2 cores)"
  ( mkdir -p "$work"; cd "$work"
    [ -f go.mod ] || { go mod init local.build/containerd >/dev/null 2>&1
      go get -tool "$m/cmd/containerd@$CONTAINERD_VERSION" "$m/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
        "$m/cmd/ctr@$CONTAINERD_VERSION" >&2; }
    for c in containerd containerd-shim-runc-v2 ctr; do
      go build -v -trimpath -p "$jobs" -tags no_btrfs,no_devmapper,no_zfs,no_aufs \
        -ldflags "-s -w -X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Package=$m" \
        -o "$bin/$c.tmp" "$m/cmd/$c" 2>&1 | progress "$c"
      test "${PIPESTATUS[0]}" -eq 0
      mv "$bin/$c.tmp" "$bin/$c"
    done )
}

build_pause() {
  [ -x "$bin/pause" ] && return 0
  log "building pause"
  ( work="$cache/work/pause"; mkdir -p "$work"; cd "$work"
    [ -f go.mod ] || go mod init local.build/pause >/dev/null 2>&1
    cp "$here/node/pause.go" main.go
    go build -trimpath -ldflags "-s -w" -o "$bin/pause.tmp" . )
  mv "$bin/pause.tmp" "$bin/pause"
}

# An image as an OCI image layout in a tar (what `ctr images import` reads), written with tar and sha256sum so the
# cluster needs no image builder: one layer holding the files of a directory, an entrypoint, a user.
#   oci_image NAME ROOTDIR OUT ENTRYPOINT USER
oci_image() {
  local name=$1 root=$2 out=$3 entry=$4 user=$5 d diff layer cfg man size
  d=$(mktemp -d); mkdir -p "$d/oci/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$d/layer.tar" .
  diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  gzip -n -9 "$d/layer.tar"
  layer=$(sha256sum "$d/layer.tar.gz" | cut -d' ' -f1); mv "$d/layer.tar.gz" "$d/oci/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["%s"],"User":"%s","Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$user" "$diff" >"$d/config.json"
  cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$cfg" "$(stat -c %s "$d/config.json")" "$layer" "$(stat -c %s "$d/oci/blobs/sha256/$layer")" >"$d/manifest.json"
  mv "$d/config.json" "$d/oci/blobs/sha256/$cfg"
  man=$(sha256sum "$d/manifest.json" | cut -d' ' -f1); size=$(stat -c %s "$d/manifest.json")
  mv "$d/manifest.json" "$d/oci/blobs/sha256/$man"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$size" "$name" "${name##*:}" >"$d/oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci/oci-layout"
  tar --owner=0 --group=0 --numeric-owner -C "$d/oci" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"; rm -rf "$d"
}

# The pod sandbox image (PAUSE_IMAGE): /pause alone, as uid 65535 like the upstream one.
build_pause_image() {
  local d
  [ -f "$bin/pause-image.tar" ] && [ "$(cat "$bin/pause-image.name" 2>/dev/null)" = "$PAUSE_IMAGE" ] && return 0
  d=$(mktemp -d); cp "$bin/pause" "$d/pause"
  oci_image "$PAUSE_IMAGE" "$d" "$bin/pause-image.tar" /pause 65535:65535; rm -rf "$d"
  printf '%s\n' "$PAUSE_IMAGE" >"$bin/pause-image.name"
}

# The provisioner's helper pods run its setup and teardown scripts with sh, mkdir and rm: Debian's static busybox.
build_helper_image() {
  local d t
  [ -f "$bin/helper-image.tar" ] && [ "$(cat "$bin/helper-image.name" 2>/dev/null)" = "$HELPER_IMAGE" ] && return 0
  d=$(mktemp -d); mkdir -p "$d/bin" "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for t in sh mkdir rm chmod ls cat sleep; do ln -s busybox "$d/bin/$t"; done
  oci_image "$HELPER_IMAGE" "$d" "$bin/helper-image.tar" /bin/sh 0:0; rm -rf "$d"
  printf '%s\n' "$HELPER_IMAGE" >"$bin/helper-image.name"
}

build_local_path() {
  local work="$cache/work/local-path-$LOCAL_PATH_PROVISIONER_VERSION" m=github.com/rancher/local-path-provisioner
  [ -x "$bin/local-path-provisioner" ] && return 0
  log "building local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION (cold: about 1.5 minutes on 2 cores)"
  ( mkdir -p "$work"; cd "$work"
    [ -f go.mod ] || go mod init local.build/local-path >/dev/null 2>&1
    grep -q "tool $m\$" go.mod || go get -tool "$m@$LOCAL_PATH_PROVISIONER_VERSION" >&2
    go build -v -trimpath -p "$jobs" -ldflags "-s -w" -o "$bin/local-path-provisioner.tmp" "$m" 2>&1 \
      | progress local-path-provisioner
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/local-path-provisioner.tmp" "$bin/local-path-provisioner"
}

# `build-node.sh packages`: the Debian packages alone (callers install them before they check the host).
if [ "${1:-}" = packages ]; then
  debian_packages
  exit 0
fi

start=$SECONDS
debian_packages
build_pause
build_pause_image
build_helper_image
build_containerd
if [ "${1:-}" != runtime ]; then
  build_kube kubelet
  build_kube kube-controller-manager
  build_kube kube-scheduler
  build_local_path
fi
log "node binaries ready in $bin ($((SECONDS - start))s)"
echo "$bin"
