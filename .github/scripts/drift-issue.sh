#!/usr/bin/env bash
# Keeps one open issue for the cluster's drift, from `picotrader drift-report --issue` output:
# opens it, updates it when the drift changes (new fingerprint), closes it when the drift is gone.
# Needs the GitHub CLI (gh) with GH_TOKEN; every gh call fails the step when it fails.
# (test/ci/lab-drift.test.ts runs it against a fake gh on PATH.)
set -euo pipefail
payload=${1:?usage: drift-issue.sh ISSUE.json}
label=picotrader-drift
field() { node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(String(p[process.argv[2]]))' "$payload" "$1"; }

drift=$(field drift)
unknown=$(field unknown)
if [ -n "$unknown" ]; then
  echo "state unknown on $unknown: the drift issue is neither closed nor updated" >&2
  exit 1
fi
fingerprint=$(field fingerprint)
open=$(gh issue list --label "$label" --state open --json number --jq '.[0].number // empty')

if [ "$drift" = true ]; then
  body=$(mktemp)
  trap 'rm -f "$body"' EXIT
  field body > "$body"
  if [ -z "$open" ]; then
    gh label create "$label" --force --description "picotrader: the cluster differs from cluster.yaml" >/dev/null
    gh issue create --label "$label" --title "$(field title)" --body-file "$body"
  elif ! gh issue view "$open" --json body --jq .body | grep -qF "$label:$fingerprint"; then
    gh issue edit "$open" --title "$(field title)" --body-file "$body"
  fi
elif [ -n "$open" ]; then
  gh issue close "$open" --comment "$(field body)"
fi
