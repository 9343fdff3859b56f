#!/usr/bin/env bash
# Runs the whole test suite: prepares the machine (scripts/bootstrap.sh), then builds and
# tests the solution against the local PostgreSQL. Extra arguments go to `dotnet test`
# (e.g. --filter "FullyQualifiedName~Clip").
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh

export FUSEDREAM_TEST_DB="${FUSEDREAM_TEST_DB:-Host=localhost;Port=5432;Database=fusedream_test;Username=fusedream;Password=fusedream}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
dotnet test FuseDream.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain totals line, summed over the test assemblies.
awk '/^(Passed!|Failed!)/ {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:")  f += $(i+1) + 0
         if ($i == "Passed:")  p += $(i+1) + 0
         if ($i == "Skipped:") s += $(i+1) + 0
       }
       seen = 1
     }
     END { if (seen) printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
