#!/usr/bin/env bash
# The floor under runc pod start-up on this machine: N busybox containers created and started at
# once with runc alone (no orca, no network namespace, no image store), as `orca bench pods
# --runtime runc` asks of it. Needs root, runc and busybox-static. Usage: benches/runc_floor.sh [N]
set -euo pipefail
n="${1:-100}"
dir="$(mktemp -d)"
trap 'for i in $(seq 1 "$n"); do runc --root "$dir/state" delete -f "c$i" >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT
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
start=$(date +%s%N)
for i in $(seq 1 "$n"); do
  (runc --root "$dir/state" create --bundle "$dir/bundle" "c$i" </dev/null >/dev/null 2>&1 \
    && runc --root "$dir/state" start "c$i") &
done
wait
end=$(date +%s%N)
echo "runc alone: $n containers created and started at once in $(( (end - start) / 1000000 )) ms"
