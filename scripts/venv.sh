#!/usr/bin/env bash
# Create or reuse .venv and install Tidings into it (with its test tools when asked).
# Usage: scripts/venv.sh [run|test]
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}
venv=.venv
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Tidings needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        # Debian splits ensurepip into python3-venv; install it when we may, else bootstrap pip.
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            ver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${ver}-venv" >/dev/null \
                || DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
            "$python" -m venv "$venv"
        else
            "$python" -m venv --without-pip "$venv"
            "$venv/bin/python" scripts/get_pip.py
        fi
    fi
fi

stamp="$venv/.installed-$want"
inputs="pyproject.toml constraints.txt"
digest=$(cat $inputs | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
    exit 0
fi
extra=""
[ "$want" = test ] && extra="[test]"
echo "Installing Tidings${extra:+ with its test tools} into $venv ..."
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".$extra"
rm -f "$venv"/.installed-*
echo "$digest" > "$stamp"
[ "$want" = test ] && echo "$digest" > "$venv/.installed-run"
exit 0
