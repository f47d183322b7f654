#!/usr/bin/env bash
# Builds one of our small Go programs (a folder of hack/ with its own pinned go.mod and go.sum) from the Go module
# proxy into a cache outside the repository, keyed by a hash of its sources, so a warm machine skips the build and
# an edited program is rebuilt. Prints progress while compiling.
#
#   hack/build-go-tool.sh hack/argocd/lua-health      # Argo CD's Lua interpreter, for the health checks' tests
#   hack/build-go-tool.sh bench/loadclient            # the benchmarks' compiled load client
#
# Output: the binary's path on the last line of stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "$root/${1:?usage: build-go-tool.sh DIR}" && pwd)
name=$(basename "$src")

cache=${ARRAYCOPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arraycopy}
key=$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-12)
bin="$cache/bin/$name-$key"
mkdir -p "$bin"

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}

log() { printf '[%s %s] %s\n' "$name" "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$bin/$name" ]; then
  start=$SECONDS
  log "building $name from the Go module proxy (pinned by its go.sum; cold: well under a minute)"
  ( cd "$src"
    go mod download -x 2>&1 | sed -n 's/^# get .*\/@v\/\(.*\)\.zip$/downloaded \1/p' | while IFS= read -r l; do log "$l"; done
    go build -v -trimpath -ldflags "-s -w" -o "$bin/$name.tmp" . 2>&1 | while IFS= read -r p; do log "compiled $p"; done
    test "${PIPESTATUS[0]}" -eq 0 )
  mv "$bin/$name.tmp" "$bin/$name"
  log "built in $((SECONDS - start))s"
fi
echo "$bin/$name"
