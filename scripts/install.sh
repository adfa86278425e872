#!/usr/bin/env bash
# Install what fieldsync needs on a Debian 12 machine (run as root), then the Python venv.
# Idempotent and quiet: when everything is already there it only checks, in well under a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# PostgreSQL for the test suite; the rest for browser/screenshot work. Installed without
# recommends (138 packages instead of ~30), so the two recommends that matter are named:
# xauth (xvfb-run needs it) and fonts-liberation (Chromium's default Latin fonts).
APT_PACKAGES=(postgresql fonts-noto-cjk xvfb xauth libgl1-mesa-dri chromium fonts-liberation)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install.sh: missing Debian packages (${missing[*]}); run this script as root" >&2
        exit 1
    fi
    echo "install.sh: installing Debian packages: ${missing[*]}" >&2
    log="$(mktemp)"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only if apt cannot find a candidate for a missing package.
    need_update=0
    for pkg in "${missing[@]}"; do
        cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
        if [[ -z "$cand" || "$cand" == "(none)" ]]; then need_update=1; break; fi
    done
    if ((need_update)) && ! apt-get update -qq >"$log" 2>&1; then
        tail -n 20 "$log" >&2; rm -f "$log"; exit 1
    fi
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
        # A stale package list gives 404s: refresh once and retry.
        if apt-get update -qq >>"$log" 2>&1 \
            && apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
            :
        else
            tail -n 20 "$log" >&2; rm -f "$log"; exit 1
        fi
    fi
    rm -f "$log"
fi

# Python virtualenv with the project installed in editable mode.
if [[ ! -x .venv/bin/python ]]; then
    echo "install.sh: creating .venv" >&2
    python3 -m venv .venv
fi

# Reinstall only when something that shapes the install changed: pyproject.toml, the Python,
# or the set of top-level packages (setuptools' editable finder maps only the packages that
# existed at install time, so a newly added package needs a reinstall).
stamp_file=.venv/.fieldsync-install-stamp
stamp="$(
    {
        cat pyproject.toml
        readlink -f .venv/bin/python
        ls -d -- */__init__.py 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
)"
if [[ ! -f "$stamp_file" || "$(cat "$stamp_file")" != "$stamp" || ! -x .venv/bin/fieldsync ]]; then
    echo "install.sh: pip install -e '.[test]'" >&2
    log="$(mktemp)"
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' >"$log" 2>&1; then
        tail -n 30 "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    echo "$stamp" >"$stamp_file"
fi
