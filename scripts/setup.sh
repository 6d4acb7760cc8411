#!/usr/bin/env bash
# Installs what pg-handover's sandbox, tests and demo need on Debian 12, then `npm ci`.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

need=()
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # sandbox up --tls
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  # The packages' own services are not wanted: the sandbox starts its own servers on free ports.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
fi
# Postgres refuses to run as root; as root, the sandbox runs the servers as this user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --create-home --shell /usr/sbin/nologin postgres
fi
npm ci --no-audit --no-fund
