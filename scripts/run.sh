#!/usr/bin/env bash
# Runs FuseDream on this machine: the API with an in-process worker against the local
# PostgreSQL. Prepares the machine first (scripts/bootstrap.sh).
#
# Environment (optional): FUSEDREAM_URL (default http://localhost:5080), and any setting
# from the README's configuration table (e.g. ConnectionStrings__FuseDream).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh

url="${FUSEDREAM_URL:-http://localhost:5080}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export Worker__InProcess="${Worker__InProcess:-true}"
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"

echo "[run] building (the API hosts the worker in-process, so it is built with the CPU libtorch backend)"
dotnet build FuseDream.Api -c Release -p:TorchBackend=cpu -v quiet -nologo
echo "[run] FuseDream API on $url — Swagger UI: $url/swagger  (Ctrl+C stops it)"
exec dotnet run --no-build --project FuseDream.Api -c Release -p:TorchBackend=cpu -- --urls "$url"
