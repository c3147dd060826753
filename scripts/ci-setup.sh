#!/usr/bin/env bash
# Install what `just test` needs on a fresh Debian 12 machine, idempotently.
# Safe to re-run; non-interactive (CI=true, no stdin). Needs root for apt.
#
#   - just (task runner): Debian's package when it offers >= 1.14, else the
#     prebuilt binary from PyPI's rust-just wheel, else `cargo install just --locked`
#   - PostgreSQL client/server when missing, and the machine's system cluster
#     started when nothing answers on 127.0.0.1:5432 (scripts/dev-db.sh starts a
#     project-local cluster otherwise)
#   - Tesseract OCR with its Simplified Chinese data and a CJK font, when `tesseract` is
#     missing: the screenshot OCR test renders Chinese text and reads it back
#   - chromium, only once the frontend uses Playwright (see the hook below)
#   - python3 with venv (python3-venv) and curl, for the pinned schemathesis run in `just test`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive
JUST_MIN="1.14"

log() { printf 'ci-setup: %s\n' "$*" >&2; }

SUDO=""
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi

APT_UPDATED=""
apt_update() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [[ -z "$APT_UPDATED" ]]; then
    log "apt-get update"
    $SUDO apt-get update -qq </dev/null || return 1
    APT_UPDATED=1
  fi
}
apt_install() {
  apt_update || return 1
  log "apt-get install $*"
  $SUDO apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# version_ge A B: A >= B (dotted versions)
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]; }

just_ok() {
  command -v just >/dev/null 2>&1 || return 1
  local v; v="$(just --version 2>/dev/null | awk '{print $2}')"
  [[ -n "$v" ]] && version_ge "$v" "$JUST_MIN"
}

bin_dir() {
  if [[ -w /usr/local/bin ]]; then echo /usr/local/bin; else mkdir -p "$HOME/.local/bin"; echo "$HOME/.local/bin"; fi
}

install_just() {
  if just_ok; then log "just $(just --version | awk '{print $2}') present"; return 0; fi

  # 1. Debian's package (bookworm has none; trixie and later do).
  if apt_update; then
    local cand; cand="$(apt-cache policy just 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [[ -n "$cand" && "$cand" != "(none)" ]] && version_ge "${cand%%-*}" "$JUST_MIN"; then
      apt_install just && just_ok && { log "just installed from apt"; return 0; }
    else
      log "apt offers no just >= $JUST_MIN (candidate: ${cand:-none})"
    fi
  fi

  # 2. PyPI's rust-just wheel ships the official prebuilt binary: seconds, not minutes.
  if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    local tmp; tmp="$(mktemp -d)"
    log "pip install rust-just"
    if python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
         --target "$tmp" "rust-just>=$JUST_MIN" </dev/null && [[ -x "$tmp/bin/just" ]]; then
      install -m 0755 "$tmp/bin/just" "$(bin_dir)/just"
      rm -rf "$tmp"
      hash -r
      just_ok && { log "just installed from PyPI (rust-just) into $(bin_dir)"; return 0; }
    fi
    rm -rf "$tmp"
  fi

  # 3. Build from crates.io (slow on 2 cores, but always available).
  log "cargo install just --locked"
  cargo install just --locked </dev/null
  hash -r
  just_ok || { log "just still not usable (is ~/.cargo/bin on PATH?)"; return 1; }
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 -t 3 >/dev/null 2>&1; }

ensure_postgres() {
  if ! command -v psql >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 \
     || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql postgresql-client || log "could not install PostgreSQL from apt"
  fi

  if pg_answers; then log "system PostgreSQL answers on 127.0.0.1:5432"; return 0; fi

  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    local conf ver cluster
    for conf in /etc/postgresql/*/*/postgresql.conf; do
      [[ -f "$conf" ]] || continue
      cluster="$(basename "$(dirname "$conf")")"
      ver="$(basename "$(dirname "$(dirname "$conf")")")"
      log "starting system PostgreSQL cluster $ver/$cluster"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start </dev/null \
        || log "pg_ctlcluster $ver $cluster start failed"
    done
    for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  fi

  if pg_answers; then
    log "system PostgreSQL answers on 127.0.0.1:5432"
  else
    log "no system PostgreSQL on 127.0.0.1:5432: scripts/dev-db.sh will start a project-local cluster"
  fi
}

# The `tesseract` OCR engine reads agents' ticket screenshots; its test draws a booking in a CJK
# font and reads it back, and fails (never skips) without these.
ensure_ocr() {
  if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx chi_sim \
     && ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1; then
    log "tesseract with chi_sim and a CJK font present"; return 0
  fi
  apt_install tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk
}

# Hook for frontend browser tests: Playwright drives Debian's chromium (its own
# browser download cannot be fetched here). Only installed once
# frontend/package.json exists and mentions playwright; tests should then launch
# it with executablePath: "/usr/bin/chromium" (.ci/run sets PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
ensure_browser() {
  local pkg="$ROOT/frontend/package.json"
  [[ -f "$pkg" ]] && grep -qi playwright "$pkg" || return 0
  if command -v chromium >/dev/null 2>&1; then log "chromium present"; return 0; fi
  apt_install chromium chromium-driver fonts-liberation
}

# `just test` runs schemathesis (pinned, from PyPI) in a venv that scripts/schemathesis.sh makes:
# python3 with its venv module (Debian splits it out as python3-venv) and curl (health check).
ensure_schemathesis_deps() {
  command -v python3 >/dev/null 2>&1 || apt_install python3
  local probe; probe="$(mktemp -d)"
  if python3 -m venv "$probe/venv" >/dev/null 2>&1 && [[ -x "$probe/venv/bin/pip" ]]; then
    log "python3 -m venv works"
  else
    local v; v="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install python3-venv "python${v}-venv" || apt_install python3-venv
  fi
  rm -rf "$probe"
  command -v curl >/dev/null 2>&1 || apt_install curl
}

install_just
# `scripts/ci-setup.sh just`: only the task runner (what `./x run` needs on a bare machine).
if [[ "${1:-}" == just ]]; then log "done (just only)"; exit 0; fi
ensure_postgres
ensure_ocr
ensure_browser
ensure_schemathesis_deps
log "done"
