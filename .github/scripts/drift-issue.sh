#!/usr/bin/env bash
# Keeps one open issue for the cluster's drift, from `picotrader drift-report --issue` output:
# opens it, updates it when the drift changes (new fingerprint), closes it when the drift is gone.
# Needs the GitHub CLI (gh) with GH_TOKEN. With DRY_RUN=1 it prints the gh commands instead.
set -euo pipefail
payload=${1:?usage: drift-issue.sh ISSUE.json}
label=picotrader-drift
field() { node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(String(p[process.argv[2]]))' "$payload" "$1"; }
gh_() { if [ "${DRY_RUN:-}" = 1 ]; then printf 'gh'; printf ' %q' "$@"; printf '\n'; else gh "$@"; fi; }

drift=$(field drift)
fingerprint=$(field fingerprint)
open=$(if [ "${DRY_RUN:-}" = 1 ]; then echo "${EXISTING_ISSUE:-}"; else gh issue list --label "$label" --state open --json number --jq '.[0].number // empty'; fi)

if [ "$drift" = true ]; then
  body=$(mktemp); field body > "$body"
  if [ -z "$open" ]; then
    gh_ label create "$label" --force --description "picotrader: the cluster differs from cluster.yaml" >/dev/null
    gh_ issue create --label "$label" --title "$(field title)" --body-file "$body"
  elif [ "${DRY_RUN:-}" = 1 ] || ! gh issue view "$open" --json body --jq .body | grep -q "$label:$fingerprint"; then
    gh_ issue edit "$open" --title "$(field title)" --body-file "$body"
  fi
elif [ -n "$open" ]; then
  gh_ issue close "$open" --comment "$(field body)"
fi
