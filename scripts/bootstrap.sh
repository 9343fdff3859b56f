#!/usr/bin/env bash
# Prepares this machine to build, run and test FuseDream. Idempotent and non-interactive:
# a second run changes nothing and says that everything is in place.
#
#   scripts/bootstrap.sh            # libstdc++ for TorchSharp + local PostgreSQL + a plot font + s3rver and Chromium for the tests
#
# On Debian 12 this takes libstdc++6 from Debian 13 (trixie), and with it Debian 13's libc6,
# dpkg and base-files (and GCC 14's runtime libraries, zstd, locales): the machine then
# reports itself as Debian 13 (/etc/os-release). To avoid that, use Debian 13 or Ubuntu 24.04
# (whose libstdc++ is new enough), or the containers (Dockerfile.api, Dockerfile.gpu).
#
# Environment (all optional):
#   FUSEDREAM_PG_USER      role to create            (default fusedream)
#   FUSEDREAM_PG_PASSWORD  its password              (default fusedream)
#   FUSEDREAM_PG_PORT      port of the local cluster (default 5432)
#   FUSEDREAM_TOOLS        prefix of the test tools (default /opt/fusedream): s3rver under s3rver/
set -euo pipefail
# ldconfig, runuser and pg_* helpers live in sbin, which a normal user's PATH on Debian lacks
# (sudo only adds it for the command it runs).
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

PG_USER="${FUSEDREAM_PG_USER:-fusedream}"
PG_PASSWORD="${FUSEDREAM_PG_PASSWORD:-fusedream}"
PG_PORT="${FUSEDREAM_PG_PORT:-5432}"
TOOLS="${FUSEDREAM_TOOLS:-/opt/fusedream}"
S3RVER_VERSION=3.7.1
DEV_DB=fusedream
TEST_DB=fusedream_test
export DEBIAN_FRONTEND=noninteractive

changed=0
say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else
  command -v sudo >/dev/null || die "run as root or install sudo"
  SUDO="sudo -n"
fi

# sudo resets the environment, so DEBIAN_FRONTEND is passed through env: without it debconf
# would try to ask (e.g. libc6's service-restart question) with no terminal.
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then apt_get update -qq; apt_updated=1; fi
  apt_get install -y -qq --no-install-recommends "$@" >/dev/null
  changed=1
}

command -v dotnet >/dev/null || die "the .NET 10 SDK is missing: install it (https://learn.microsoft.com/dotnet/core/install/linux) and run again"

# --- libstdc++ for TorchSharp -------------------------------------------------------------
# TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13+). Debian 12 ships
# GCC 12's libstdc++, so there we take Debian 13's libstdc++6 (and the libc6 it requires).
libstdcxx_has_3432() {
  local lib
  for lib in $(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64|libstdc\+\+\.so\.6 .*AArch64/ {print $NF}'); do
    grep -qa 'GLIBCXX_3\.4\.32' "$lib" && return 0
  done
  return 1
}

if libstdcxx_has_3432; then
  say "libstdc++ provides GLIBCXX_3.4.32: ok"
else
  . /etc/os-release
  if [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
    say "Debian 12's libstdc++ lacks GLIBCXX_3.4.32 (TorchSharp needs GCC 13+): installing Debian 13's libstdc++6"
    say "NOTE: this also upgrades libc6, dpkg and base-files (and GCC 14's runtime libraries, zstd, locales) to Debian 13's;"
    say "      afterwards this machine reports itself as Debian 13 (/etc/os-release)."
    say "      To keep Debian 12 untouched, stop now (Ctrl-C, 10 s) and use Debian 13 / Ubuntu 24.04 or the containers (Dockerfile.api, Dockerfile.gpu)."
    if [ -t 0 ]; then sleep 10; fi
    # The trixie source is pinned to priority 1, so it is used only when asked for by name.
    $SUDO tee /etc/apt/sources.list.d/fusedream-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/fusedream-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 1
PIN
    apt_get update -qq
    apt_updated=1
    apt_get install -y -qq --no-install-recommends -t trixie libstdc++6 >/dev/null
    changed=1
    libstdcxx_has_3432 || die "installed Debian 13's libstdc++6 but GLIBCXX_3.4.32 is still missing"
    say "libstdc++ now provides GLIBCXX_3.4.32"
  else
    die "libstdc++ lacks GLIBCXX_3.4.32, which TorchSharp 0.107 needs (GCC 13 or newer). Use Debian 13 / Ubuntu 24.04, or install a libstdc++6 from GCC 13+ and run again"
  fi
fi

# --- A font for plots ----------------------------------------------------------------------
# The score plots (the API's trace.png, generate's .trace.png, bench quality) are drawn with
# ScottPlot, whose SkiaSharp build (no fontconfig) reads font files from /usr/share/fonts; a
# slim Debian has none, and the labels would not render.
if ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  say "DejaVu fonts for plots: ok"
else
  say "installing DejaVu fonts (plot labels)"
  apt_install fonts-dejavu-core
fi

# --- Chromium for the web page's browser tests ------------------------------------------------
# Playwright drives the system browser (/usr/bin/chromium); it never downloads one of its own.
if [ -x /usr/bin/chromium ]; then
  say "Chromium (browser tests): ok"
else
  say "installing Chromium for the web page's browser tests"
  apt_install chromium
  [ -x /usr/bin/chromium ] || die "installed the chromium package but /usr/bin/chromium is missing"
fi

# --- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_lsclusters >/dev/null; then
  say "installing PostgreSQL"
  apt_install postgresql
fi

cluster="$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')"
if [ -z "$cluster" ]; then
  ver="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  say "creating PostgreSQL $ver cluster 'main' on port $PG_PORT"
  $SUDO pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null
  cluster="$ver main"; changed=1
fi
set -- $cluster
PG_VER=$1; PG_NAME=$2
PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VER" -v n="$PG_NAME" '$1==v && $2==n {print $3}')"
if pg_lsclusters -h | awk -v v="$PG_VER" -v n="$PG_NAME" '$1==v && $2==n {print $4}' | grep -q online; then
  say "PostgreSQL $PG_VER/$PG_NAME is running on port $PG_PORT"
else
  say "starting PostgreSQL $PG_VER/$PG_NAME on port $PG_PORT"
  # After an unclean stop PostgreSQL first syncs its whole data directory, which can take
  # longer than pg_ctl's default 60 s wait: allow up to 10 minutes, then check it answers.
  $SUDO pg_ctlcluster "$PG_VER" "$PG_NAME" start -- -t 600
  changed=1
fi

psql_admin() { (cd /tmp && $SUDO -u postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtAX "$@") ; }
if [ -z "$SUDO" ]; then psql_admin() { (cd /tmp && runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtAX "$@"); }; fi

for _ in $(seq 1 120); do psql_admin -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
psql_admin -c 'select 1' >/dev/null || die "PostgreSQL does not accept connections on port $PG_PORT"

if [ "$(psql_admin -c "select 1 from pg_roles where rolname = '$PG_USER'")" != 1 ]; then
  say "creating role $PG_USER"
  # CREATEDB: the integration tests create one database per test class.
  psql_admin -c "create role \"$PG_USER\" login createdb password '$PG_PASSWORD'" >/dev/null
  changed=1
fi
for db in "$DEV_DB" "$TEST_DB"; do
  if [ "$(psql_admin -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    say "creating database $db"
    psql_admin -c "create database \"$db\" owner \"$PG_USER\"" >/dev/null
    changed=1
  fi
done

# --- s3rver: the S3-protocol server the blob-store tests start ------------------------------
if ! command -v npm >/dev/null; then
  say "installing Node.js and npm (Debian packages) for s3rver"
  apt_install nodejs npm
fi
s3rver_installed() {
  [ -x "$TOOLS/s3rver/node_modules/.bin/s3rver" ] &&
    grep -q "\"version\": \"$S3RVER_VERSION\"" "$TOOLS/s3rver/node_modules/s3rver/package.json" 2>/dev/null
}
if s3rver_installed; then
  say "s3rver $S3RVER_VERSION is installed in $TOOLS/s3rver: ok"
else
  say "installing s3rver $S3RVER_VERSION into $TOOLS/s3rver"
  $SUDO mkdir -p "$TOOLS/s3rver"
  (cd "$TOOLS/s3rver" && $SUDO npm install --prefix "$TOOLS/s3rver" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >/dev/null)
  s3rver_installed || die "s3rver $S3RVER_VERSION did not install into $TOOLS/s3rver"
  changed=1
fi

say "development: Host=localhost;Port=$PG_PORT;Database=$DEV_DB;Username=$PG_USER;Password=$PG_PASSWORD"
say "tests:       Host=localhost;Port=$PG_PORT;Database=$TEST_DB;Username=$PG_USER;Password=$PG_PASSWORD"
if [ "$changed" -eq 0 ]; then say "everything is in place; nothing changed"; else say "done"; fi
