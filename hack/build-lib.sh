# Sourced by the build scripts: log lines tagged with the script's name, and progress while `go build -v` compiles.
# Set log_tag before sourcing.

log() { printf '[%s %s] %s\n' "${log_tag:?}" "$(date +%H:%M:%S)" "$*" >&2; }

# go build -v prints one line per package compiled: turn that into a progress line every 40 packages.
progress() {
  local what=$1 start=$SECONDS n=0
  while IFS= read -r _; do
    n=$((n + 1))
    if ((n % 40 == 0)); then log "$what: $n packages compiled ($((SECONDS - start))s)"; fi
  done
  log "$what: $n packages compiled in $((SECONDS - start))s"
}
