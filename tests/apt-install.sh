#!/usr/bin/env bash
# apt-install.sh PKG...: install those of the Debian packages PKG that are missing, for the
# test suite (root and apt-get). Nothing else on the host changes that need not: no
# recommended packages, no upgrade of installed ones, the package lists refreshed only when
# a package is not in them. Where a new package's dependency needs a newer version of an
# installed package, apt must upgrade it: those are named before anything is installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
for p in "${missing[@]}"; do
  if ! apt-cache policy "$p" 2>/dev/null | grep -q "Candidate: [^(]"; then
    apt-get update -qq
    break
  fi
done
install=(apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}")
upgrades=$(apt-get install -s --no-install-recommends --no-upgrade "${missing[@]}" 2>/dev/null |
  awk '/^Inst [^ ]+ \[/ {print $2}' | tr '\n' ' ')
if [ -n "$upgrades" ]; then
  echo "apt-install: ${missing[*]}: their dependencies need newer versions of installed" \
    "packages, which apt upgrades: ${upgrades% }" >&2
fi
echo "apt-install: installing ${missing[*]}" >&2
# lists older than the mirror name files it no longer has: refresh them once and retry
"${install[@]}" >/dev/null || { apt-get update -qq && "${install[@]}" >/dev/null; }
