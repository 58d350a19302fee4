#!/usr/bin/env bash
# Installs the Debian packages the portal needs when they are missing.
# Usage: system_deps.sh PACKAGE...   (known: chromium, libharfbuzz-subset0, poppler-utils, wrk)
set -euo pipefail

missing=()
for pkg in "$@"; do
  case "$pkg" in
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    # Without it WeasyPrint falls back to fontTools and every PDF is ~5x slower.
    libharfbuzz-subset0) ldconfig -p | grep -q 'libharfbuzz-subset\.so\.0' || missing+=(libharfbuzz-subset0) ;;
    # pdftoppm and pdftotext: the receipts tests turn PDFs into page images.
    poppler-utils) command -v pdftoppm >/dev/null || missing+=(poppler-utils) ;;
    wrk) command -v wrk >/dev/null || missing+=(wrk) ;;
    *) echo "system_deps.sh: unknown package $pkg" >&2; exit 2 ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
