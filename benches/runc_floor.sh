#!/usr/bin/env bash
# The floor under runc pod start-up on this machine: N busybox containers started at once with runc
# alone (no orca, no network namespace, no image store), both as `runc create` + `runc start` and
# as `runc run --detach` (what orca-shim runs). Needs root, runc, busybox-static and python3.
# Usage: benches/runc_floor.sh [N]
set -euo pipefail
n="${1:-100}"
dir="$(mktemp -d)"
cleanup() { for i in $(seq 1 "$n"); do runc --root "$dir/state" delete -f "c$i" >/dev/null 2>&1 || true; done; }
trap 'cleanup; rm -rf "$dir"' EXIT
mkdir -p "$dir/bundle/rootfs/bin"
cp "$(command -v busybox)" "$dir/bundle/rootfs/bin/"
ln -s busybox "$dir/bundle/rootfs/bin/sleep"
(cd "$dir/bundle" && runc spec)
python3 - "$dir/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "300"]
json.dump(c, open(sys.argv[1], "w"))
PY
r() { runc --root "$dir/state" "$@" </dev/null >/dev/null 2>&1; }
for way in "create+start" "run --detach"; do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    if [ "$way" = "create+start" ]; then
      (r create --bundle "$dir/bundle" "c$i" && r start "c$i") &
    else
      r run --detach --bundle "$dir/bundle" "c$i" &
    fi
  done
  wait
  end=$(date +%s%N)
  echo "runc alone, $way: $n containers started at once in $(( (end - start) / 1000000 )) ms"
  cleanup
done
