#!/usr/bin/env bash
# Prints the path of a Chromium for the end-to-end tests, installing Debian's `chromium`
# package first when none is found and this machine allows it (root with apt-get).
# Otherwise it fails at once with the one command that fixes it.
#
# Looked for, in order: $CHROMIUM_PATH, /usr/bin/chromium, then chromium, chromium-browser,
# google-chrome, google-chrome-stable on the PATH. Set CHROMIUM_INSTALL=0 to never install.
set -euo pipefail

found() { # path: print it and stop when it is an executable file
  if [ -n "$1" ] && [ -f "$1" ] && [ -x "$1" ]; then
    echo "$1"
    exit 0
  fi
}

if [ -n "${CHROMIUM_PATH:-}" ]; then
  found "$CHROMIUM_PATH"
  echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
  exit 1
fi
found /usr/bin/chromium
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  found "$(command -v "$name" 2>/dev/null || true)"
done

fix="sudo apt-get install -y chromium   # or set CHROMIUM_PATH to a Chromium or Chrome binary"
if [ "${CHROMIUM_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Chromium not found: installing Debian's chromium package (about a minute)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >&2 && apt-get install -y -qq chromium >&2; then
    found /usr/bin/chromium
  fi
  echo "installing chromium failed; to fix it by hand: $fix" >&2
  exit 1
fi
echo "The browser tests need Chromium and none was found. Fix: $fix" >&2
exit 1
