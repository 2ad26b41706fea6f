#!/usr/bin/env bash
# make demo: start the sandbox on loopback, apply samples/ twice (a create
# run, then a no-op run that makes zero calls), and print the report with
# tokens redacted. Needs nothing but the groupsync binary.
set -euo pipefail
bin=${1:-bin/groupsync}
work=$(mktemp -d)
trap 'kill "$sandbox_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" sandbox --addr 127.0.0.1:0 --token demo-token --rate 20/s >"$work/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 50); do
  grep -q 'serving' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*serving the Explo API on \(http:[^ ]*\).*/\1/p' "$work/sandbox.out")
[ -n "$url" ] || { cat "$work/sandbox.out"; exit 1; }

export EXPLO_API_URL=$url EXPLO_API_TOKEN=demo-token
run() { echo; echo "\$ groupsync $*"; "$bin" "$@"; }

echo "== sandbox at $url"
run validate -f samples
run plan -f samples --state "$work/state.json" --rate 20/s
run apply -f samples --state "$work/state.json" --rate 20/s --report "$work/report.csv"
run plan -f samples --state "$work/state.json" --detailed-exitcode
run apply -f samples --state "$work/state.json" --rate 20/s --report "$work/report.csv" --json
echo
echo "== the report (tokens redacted here; the file $work/report.csv has them, mode 0600)"
"$bin" apply -f samples --state "$work/state.json" --report "$work/redacted.csv" --redact-tokens
cat "$work/redacted.csv"
