#!/usr/bin/env bash
# Runs FuseDream on this machine: the API with an in-process worker against the local
# PostgreSQL. Prepares the machine first (scripts/bootstrap.sh).
#
# Models: the pretrained CLIP ViT-B/32 and BigGAN from the model store. When they are not
# there, it fetches CLIP ViT-B/32 + BigGAN-256 once (about 650 MiB, resumable, verified;
# FUSEDREAM_FETCH_MODELS=0 skips this). If that is impossible (offline), it serves the tiny
# random-weight test models instead, so the service runs end to end on any machine (their
# images are noise). Models__Clip / Models__BigGan256 / Models__BigGan512 name files explicitly.
#
# API key: every endpoint but /health needs one. The first run creates a development admin key
# (kept in ~/.local/state/fusedream/dev-admin-key, or FUSEDREAM_DEV_KEY_FILE) and every run
# prints it with the web page's URL and a ready curl line.
#
# Environment (optional): FUSEDREAM_URL (default http://localhost:5080), and any setting
# from the README's configuration table (e.g. ConnectionStrings__FuseDream).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

scripts/bootstrap.sh

url="${FUSEDREAM_URL:-http://localhost:5080}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export Worker__InProcess="${Worker__InProcess:-true}"
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"

echo "[run] building (the API hosts the worker in-process, so it is built with the CPU libtorch backend)"
dotnet build FuseDream.Worker -c Release -v quiet -nologo
dotnet build FuseDream.Api -c Release -p:TorchBackend=cpu -v quiet -nologo

worker=(dotnet FuseDream.Worker/bin/Release/net10.0/FuseDream.Worker.dll)
have_models() {
  "${worker[@]}" models path clip-vit-b-32 >/dev/null 2>&1 \
    && { "${worker[@]}" models path biggan-256 >/dev/null 2>&1 || "${worker[@]}" models path biggan-512 >/dev/null 2>&1; }
}
if [ -z "${Models__Clip:-}${Models__BigGan256:-}${Models__BigGan512:-}" ]; then
  if ! have_models && [ "${FUSEDREAM_FETCH_MODELS:-1}" != 0 ]; then
    echo "[run] fetching the pretrained weights once (CLIP ViT-B/32 + BigGAN-256, about 650 MiB)"
    "${worker[@]}" models pull clip-vit-b-32 biggan-256 || echo "[run] could not fetch the weights (see above)"
  fi
  if have_models; then
    echo "[run] models: the pretrained weights in the model store"
  else
    fixtures="$repo/FuseDream.Tests/Fixtures"
    export Models__Clip="$fixtures/clip/clip_tiny_jit.pt"
    export Models__BigGan256="$fixtures/biggan/G256_tiny.pth"
    export Models__BigGan512="$fixtures/biggan/G512_tiny.pth"
    echo "[run] models: no pretrained weights in the model store, so serving the tiny random-weight"
    echo "[run]         test models (images will be noise). For real images, once online:"
    echo "[run]         dotnet run --project FuseDream.Worker -- models pull clip-vit-b-32 biggan-256"
  fi
fi

# A development admin key, created once and kept (mode 600) outside the repository; made again
# when the database no longer knows it (e.g. after the database was reset).
key_file="${FUSEDREAM_DEV_KEY_FILE:-${XDG_STATE_HOME:-$HOME/.local/state}/fusedream/dev-admin-key}"
keys() { DOTNET_ENVIRONMENT="$ASPNETCORE_ENVIRONMENT" "${worker[@]}" keys "$@"; }
key=""
if [ -s "$key_file" ]; then
  key="$(cat "$key_file")"
  key_id="${key#fd_}"; key_id="${key_id%%_*}"
  keys list 2>/dev/null | grep -q "\"id\":\"$key_id\".*\"revokedAt\":null" || key=""
fi
if [ -z "$key" ]; then
  created="$(keys create --name "development admin ($(whoami)@$(hostname))" --scope admin 2>/dev/null)" \
    && key="$(printf '%s' "$created" | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')"
  if [ -n "$key" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077; printf '%s\n' "$key" > "$key_file")
  else
    echo "[run] could not create a development API key (is PostgreSQL running?); create one with:"
    echo "[run]   dotnet ${worker[*]:1} keys create --name me --scope admin"
  fi
fi
if [ -n "$key" ]; then
  echo "[run] development admin API key (kept in $key_file):"
  echo "[run]   $key"
  echo "[run] try:  curl -H 'Authorization: Bearer $key' $url/v1/generations"
  echo "[run] Swagger UI: press Authorize and paste the key."
fi

echo "[run] FuseDream API on $url — Swagger UI: $url/swagger  (Ctrl+C stops it)"
echo "[run]"
if [ -n "$key" ]; then
  echo "[run] Open the web page (the key travels in the URL's #fragment, which is never sent to the server):"
  echo "[run]   $url/#key=$key"
else
  echo "[run] Open the web page at $url/ and paste an API key into its key field."
fi
echo "[run]"
exec dotnet run --no-build --project FuseDream.Api -c Release -p:TorchBackend=cpu -- --urls "$url"
