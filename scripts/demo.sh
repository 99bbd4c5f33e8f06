#!/usr/bin/env bash
# The main job on a fresh machine: set up, boot a 3-node lab of factory-fresh nodes, reconcile it
# from scratch (plan, apply, verify), then show that a second plan is empty. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pt() { node dist/bin/picotrader.js "$@"; }
name=${LAB:-demo}
pt lab list | grep -qx "$name" && pt lab down --name "$name"
pt lab up --name "$name" --nodes "${NODES:-3}"
manifest=$(mktemp -d)/lab.yaml
pt lab manifest --name "$name" -o "$manifest"   # and the TFTP stand-in files beside it
echo; echo "== picotrader reconcile -f $manifest --yes   (inside the lab's network namespace; --yes approves the plan it shows)"
pt lab run --name "$name" -- node dist/bin/picotrader.js reconcile -f "$manifest" --yes
echo; echo "== picotrader reconcile -f $manifest --dry-run --detailed-exitcode   (nothing left to do: exit 0)"
pt lab run --name "$name" -- node dist/bin/picotrader.js reconcile -f "$manifest" --dry-run --detailed-exitcode
echo; echo "The lab is still up: node dist/bin/picotrader.js lab status --name $name; remove it with: node dist/bin/picotrader.js lab down --name $name"
