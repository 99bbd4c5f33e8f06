#!/usr/bin/env bash
# Reads a tap run's output (a file, or stdin) and prints the plain closing line "N passed, N failed".
# Exit 0 only when tap's last summary shows tests, no failure, no skip and no todo: a skipped lab
# file is a failure of the gate, not a pass. Used by .ci/run; tested by test/ci/gate.test.ts.
set -uo pipefail
summary=$(grep -E '^# \{ total: [0-9]+' "$@" | tail -n 1)
field() { sed -nE "s/.*[ {]$1: ([0-9]+).*/\\1/p" <<<"$summary"; }
pass=$(field pass)
fail=$(field fail)
skip=$(field skip)
todo=$(field todo)
if [ -z "$summary" ] || [ -z "$pass" ] || [ "$pass" -eq 0 ]; then
  echo "tap-verdict: no tap summary with a passing test" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
echo "${pass} passed, ${fail:-0} failed, ${skip:-0} skipped"
if [ "${skip:-0}" -gt 0 ] || [ "${todo:-0}" -gt 0 ]; then
  echo "tap-verdict: ${skip:-0} skipped and ${todo:-0} todo: every test must run here (the lab needs root and Linux)" >&2
  exit 1
fi
[ "${fail:-0}" -eq 0 ]
