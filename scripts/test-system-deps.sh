#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing (quick when present).
# PostgreSQL 15 for the storage tests; espeak-ng and sox make speech from known scripts;
# Chromium for the web app's end-to-end tests (driven by Playwright, which downloads no browser).
set -euo pipefail

find_initdb() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

missing=()
find_initdb || missing+=(postgresql)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test dependencies missing: ${missing[*]} (run as root or install them with apt-get)" >&2
  exit 0
fi
echo "installing test dependencies: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
