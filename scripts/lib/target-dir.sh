#!/usr/bin/env bash
# Where cargo puts this workspace's binaries: the one place the scripts ask.
#
#   scripts/lib/target-dir.sh                        # the target directory
#   scripts/lib/target-dir.sh debug|release [BIN…]   # its debug or release folder
#   scripts/lib/target-dir.sh --check DIR [BIN…]     # DIR (a folder given with --binaries)
#
# With a folder, it prints the folder once every BIN (default: every binary of the workspace) is
# built there, and otherwise fails with the command that builds them. The target directory is
# cargo's own answer (`cargo metadata`), so CARGO_TARGET_DIR, CARGO_BUILD_TARGET_DIR and
# build.target-dir all count; a relative one is taken from the current directory, as cargo does
# (the scripts run it, like their builds, from the repository's root).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Two lines: the target directory, then the workspace's binaries.
metadata=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml")
answer=$(python3 -c '
import json, sys
m = json.load(sys.stdin)
print(m["target_directory"])
print(*sorted(t["name"] for p in m["packages"] for t in p["targets"] if "bin" in t["kind"]))
' <<<"$metadata")
target=${answer%%$'\n'*}

case "${1:-}" in
  "") echo "$target"; exit 0 ;;
  debug|release) profile=$1; dir=$target/$1; shift ;;
  --check) dir=${2:?--check needs a folder}; shift 2
    profile=debug; [ "$(basename "$dir")" != release ] || profile=release ;;
  *) echo "usage: $0 [debug|release|--check DIR] [BINARY…]" >&2; exit 2 ;;
esac

build="cargo build --workspace --bins"
[ "$profile" = debug ] || build="cargo build --release --workspace --bins"
if [ $# -eq 0 ]; then read -ra bins <<<"${answer#*$'\n'}"; set -- "${bins[@]}"; fi
for bin in "$@"; do
  if [ ! -f "$dir/$bin" ] || [ ! -x "$dir/$bin" ]; then
    echo "$bin not found in $dir: build it with \`$build\`" >&2
    exit 1
  fi
done
echo "$dir"
