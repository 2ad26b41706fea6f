#!/usr/bin/env bash
# make demo: start the sandbox on loopback with the customers of
# demo-seed.csv (acme exists there already, as if made in Explo's UI),
# validate and plan samples/, apply it (a create run, which adopts acme),
# plan and apply again (a no-op run that makes zero calls), and print the
# report with tokens redacted. Unattended:
# --auto-approve, so that it never stops to ask even in a terminal. Needs
# nothing but the groupsync binary.
set -euo pipefail
bin=${1:-bin/groupsync}
work=$(mktemp -d)
trap 'kill "$sandbox_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

seed=$(dirname "$0")/demo-seed.csv
"$bin" sandbox --addr 127.0.0.1:0 --token demo-token --rate 20/s --seed "$seed" >"$work/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 50); do
  grep -q 'serving' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*serving the Explo API on \(http:[^ ]*\).*/\1/p' "$work/sandbox.out")
[ -n "$url" ] || { cat "$work/sandbox.out"; exit 1; }

export EXPLO_API_URL=$url EXPLO_API_TOKEN=demo-token
state=(--state "$work/state.json")
run() { echo; echo "\$ groupsync $*"; "$bin" "$@"; }

echo "== sandbox at $url, seeded with $seed (acme is on the service already)"
run validate -f samples
run plan -f samples "${state[@]}" --rate 20/s
run apply -f samples "${state[@]}" --rate 20/s --report "$work/report.csv" --auto-approve
echo
echo "== nothing changed: the plan is empty and apply makes no call"
run plan -f samples "${state[@]}" --detailed-exitcode
run apply -f samples "${state[@]}" --rate 20/s --report "$work/report.csv" --auto-approve --json
echo
echo "== the report (tokens redacted here; $work/report.csv has them, mode 0600)"
"$bin" apply -f samples "${state[@]}" --report "$work/redacted.csv" --redact-tokens --auto-approve
cat "$work/redacted.csv"
