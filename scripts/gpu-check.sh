#!/usr/bin/env bash
# One check of the CUDA path on a machine with an NVIDIA GPU, printing one summary:
#   1. bench pipeline --full 256 512 --device cuda --precision fp32 bf16 (medians of 3 runs),
#   2. the parity tests against the original's fixtures (only where the .NET SDK builds here),
#   3. the fixtures' tiny models end to end on CUDA in fp32 and bf16 (bench precision --device cuda),
#   4. 1000 optimisation steps on CUDA with the live-tensor count printed (bench memory),
#   5. the composed generation's fusion step at full size (bench fusion --full 256),
#   6. one generation on the tiny models written as a PNG (generate --device cuda),
#   7. one composed generation on the tiny models (generate --component … --preset fast).
#
# Two ways to run it:
#   scripts/gpu-check.sh
#       builds with -p:TorchBackend=cuda (the .NET SDK and NuGet.org's TorchSharp-cuda-linux needed).
#   scripts/gpu-check.sh --worker DIR/FuseDream.Worker --libtorch-from-python
#       runs a published worker (on any machine with the SDK:
#         dotnet publish FuseDream.Worker -c Release -r linux-x64 --self-contained -p:TorchBackend=none -o DIR)
#       against the libtorch of the PyTorch that `python3` imports (or --libtorch DIR for any libtorch
#       folder). TorchSharp 0.107 is built against libtorch 2.10; libtorch 2.11 (PyTorch 2.11 + CUDA 13.0)
#       ran everything the worker calls. No SDK is needed there, so step 2 is skipped.
# Logs go to $OUT (default gpu-check-<time>/). Exit status: 0 when every step that ran succeeded.
set -uo pipefail
cd "$(dirname "$0")/.."

worker_bin=""; libtorch=""
while [ $# -gt 0 ]; do
  case "$1" in
    --worker) worker_bin="${2:?--worker needs the published FuseDream.Worker executable}"; shift 2 ;;
    --libtorch) libtorch="${2:?--libtorch needs a folder holding libtorch.so}"; shift 2 ;;
    --libtorch-from-python)
      libtorch=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') \
        || { echo "gpu-check: python3 could not import torch; give --libtorch DIR instead"; exit 2; }
      shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)"; exit 2 ;;
  esac
done

out="${OUT:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export FUSEDREAM_TEST_DB="${FUSEDREAM_TEST_DB:-Host=localhost;Port=5432;Database=fusedream_test;Username=fusedream;Password=fusedream}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1 \
  || { echo "gpu-check: nvidia-smi failed; is this a machine with an NVIDIA GPU?"; cat "$out/gpu.txt"; exit 2; }

if [ -n "$libtorch" ]; then
  [ -f "$libtorch/libtorch.so" ] || { echo "gpu-check: no libtorch.so in '$libtorch'"; exit 2; }
  export LD_LIBRARY_PATH="$libtorch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

parity=skipped
if [ -n "$worker_bin" ]; then
  [ -x "$worker_bin" ] || { echo "gpu-check: '$worker_bin' is not an executable"; exit 2; }
  # A self-contained worker on a machine without ICU: culture data is not needed by any command here.
  export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT="${DOTNET_SYSTEM_GLOBALIZATION_INVARIANT:-1}"
  worker=("$worker_bin")
else
  echo "gpu-check: building with the CUDA backend (log: $out/build.log)"
  if ! dotnet build FuseDream.sln -c Release -p:TorchBackend=cuda > "$out/build.log" 2>&1; then
    tail -20 "$out/build.log"; echo "gpu-check: the CUDA build failed"; exit 2
  fi
  worker=(dotnet FuseDream.Worker/bin/Release/net10.0/FuseDream.Worker.dll)
fi

fixtures=FuseDream.Tests/Fixtures
step() { # name, time limit in seconds, worker arguments…
  local name=$1 limit=$2; shift 2
  echo "gpu-check: $name (log: $out/$name.txt)"
  timeout "$limit" "${worker[@]}" "$@" > "$out/$name.txt" 2>&1
}

step bench-pipeline 600 bench pipeline --full 256 512 --device cuda --precision fp32 bf16 --basis-batch 10; pipeline=$?
if [ -z "$worker_bin" ]; then
  echo "gpu-check: parity tests (log: $out/parity.txt)"
  dotnet test FuseDream.Tests -c Release --no-build --filter "FullyQualifiedName~Parity" > "$out/parity.txt" 2>&1
  parity=$?
fi
step precision 300 bench precision --device cuda --seeds 4 --steps 10 --full 256 512; precision=$?
step memory 300 bench memory --device cuda --clip "$fixtures/clip/clip_tiny_jit.pt" --biggan "$fixtures/biggan/G512_tiny.pth" --steps 1000 --every 250; memory=$?
step fusion 300 bench fusion --full 256 --device cuda --inner-steps 1 3 --steps 3; fusion=$?
step generate 300 generate "a red bus in a snowy forest" --clip "$fixtures/clip/clip_tiny_jit.pt" --biggan "$fixtures/biggan/G256_tiny.pth" \
  --device cuda --preset fast --seed 7 --out "$out/generate.png"; generate=$?
step compose 300 generate "a dog on the moon" --component "the surface of the moon" --component "a dog@0.3,0.35,0.75,0.95" \
  --clip "$fixtures/clip/clip_tiny_jit.pt" --biggan "$fixtures/biggan/G256_tiny.pth" \
  --device cuda --preset fast --seed 7 --out "$out/compose.png"; compose=$?

status() { case "$1" in skipped) echo "skipped (no .NET SDK: --worker)" ;; 0) echo ok ;; *) echo "FAILED (exit $1)" ;; esac; }
{
  echo "== gpu-check summary ($(date -u +%FT%TZ)) =="
  echo "GPU: $(cat "$out/gpu.txt")"
  [ -n "$libtorch" ] && echo "libtorch: $libtorch"
  echo "bench pipeline: $(status $pipeline)"
  grep -E '^(Device|\|)' "$out/bench-pipeline.txt"
  echo "parity tests: $(status $parity)${parity:+ $(grep -E '^(Passed|Failed)!' "$out/parity.txt" 2>/dev/null | tail -1)}"
  echo "tiny models on CUDA, fp32 against bf16: $(status $precision)"
  grep -E '^(mean|BigGAN)' "$out/precision.txt"
  echo "memory over 1000 steps on CUDA: $(status $memory) — $(grep -E '^(flat|NOT flat)' "$out/memory.txt")"
  echo "fusion: $(status $fusion)"
  grep -E '^BigGAN' "$out/fusion.txt"
  echo "generate on CUDA: $(status $generate) — $(grep -E '^AugCLIP score' "$out/generate.txt")"
  echo "composed generate on CUDA: $(status $compose) — $(grep -E '^AugCLIP score' "$out/compose.txt")"
} | tee "$out/summary.txt"
for rc in $pipeline $precision $memory $fusion $generate $compose; do [ "$rc" -eq 0 ] || exit 1; done
[ "$parity" = skipped ] || [ "$parity" -eq 0 ]
