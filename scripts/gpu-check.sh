#!/usr/bin/env bash
# One check of the CUDA path on a machine with an NVIDIA GPU (driver installed) and NuGet.org
# reachable for the CUDA build of TorchSharp: builds with -p:TorchBackend=cuda, then
#   1. bench pipeline --full 256 512 --device cuda --precision fp32 bf16 (medians of 3 runs),
#   2. the parity tests against the original's fixtures (CPU arithmetic, CUDA build),
#   3. the fixtures' tiny models end to end on CUDA in fp32 and bf16 (bench precision --device cuda),
# and prints one summary. Logs go to $OUT (default gpu-check-<time>/). Exit status: 0 when all
# three succeeded.
set -uo pipefail
cd "$(dirname "$0")/.."

out="${OUT:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export FUSEDREAM_TEST_DB="${FUSEDREAM_TEST_DB:-Host=localhost;Port=5432;Database=fusedream_test;Username=fusedream;Password=fusedream}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1 \
  || { echo "gpu-check: nvidia-smi failed; is this a machine with an NVIDIA GPU?"; cat "$out/gpu.txt"; exit 2; }

echo "gpu-check: building with the CUDA backend (log: $out/build.log)"
if ! dotnet build FuseDream.sln -c Release -p:TorchBackend=cuda > "$out/build.log" 2>&1; then
  tail -20 "$out/build.log"; echo "gpu-check: the CUDA build failed"; exit 2
fi
worker=(dotnet FuseDream.Worker/bin/Release/net10.0/FuseDream.Worker.dll)

echo "gpu-check: bench pipeline (log: $out/bench-pipeline.txt)"
"${worker[@]}" bench pipeline --full 256 512 --device cuda --precision fp32 bf16 > "$out/bench-pipeline.txt" 2>"$out/bench-pipeline.err"
bench=$?

echo "gpu-check: parity tests (log: $out/parity.txt)"
dotnet test FuseDream.Tests -c Release --no-build --filter "FullyQualifiedName~Parity" > "$out/parity.txt" 2>&1
parity=$?

echo "gpu-check: tiny models on CUDA, fp32 against bf16 (log: $out/precision.txt)"
"${worker[@]}" bench precision --device cuda --seeds 4 --steps 10 --full 256 512 > "$out/precision.txt" 2>"$out/precision.err"
precision=$?

status() { [ "$1" -eq 0 ] && echo ok || echo "FAILED (exit $1)"; }
{
  echo "== gpu-check summary ($(date -u +%FT%TZ)) =="
  echo "GPU: $(cat "$out/gpu.txt")"
  echo "bench pipeline: $(status $bench)"
  grep -E '^(Device|\|)' "$out/bench-pipeline.txt"
  echo "parity tests: $(status $parity) — $(grep -E '^(Passed|Failed)!' "$out/parity.txt" | tail -1)"
  echo "tiny models on CUDA: $(status $precision)"
  grep -E '^(mean|BigGAN)' "$out/precision.txt"
} | tee "$out/summary.txt"
[ $bench -eq 0 ] && [ $parity -eq 0 ] && [ $precision -eq 0 ]
