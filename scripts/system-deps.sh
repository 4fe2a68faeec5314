#!/usr/bin/env bash
# Install the system packages the test suite drives: Debian's Chromium (browser tests)
# and Postfix's smtp-sink/smtp-source (throughput checks). Never leaves an MTA running.
set -uo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)
[ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
else
    echo "note: ${missing[*]} not installed and no root: tests that need them will skip" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "note: no apt-get; install ${missing[*]} yourself: tests that need them will skip" >&2
    exit 0
fi
echo "Installing ${missing[*]} (for browser and mail tests) ..."
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null
$sudo postfix stop >/dev/null 2>&1 || true
exit 0
