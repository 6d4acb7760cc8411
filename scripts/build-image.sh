#!/usr/bin/env bash
# Builds the container sandbox's image from Debian packages (no image registry is needed):
# debootstrap a minimal bookworm with PostgreSQL 15 and PgBouncer, then `docker import` it.
# Cached by tag: the tag names the package list, so changing the list builds a new image.
# Usage: scripts/build-image.sh [--print-tag]
set -euo pipefail
cd "$(dirname "$0")/.."

packages="postgresql-15,pgbouncer,procps,iproute2"
tag="pg-handover-sandbox:bookworm-$(printf '%s' "$packages" | sha256sum | cut -c1-8)"
if [ "${1:-}" = "--print-tag" ]; then echo "$tag"; exit 0; fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-image: $tag is already built"
  exit 0
fi

# The machine's own Debian mirror (deb822 sources first, then the classic list).
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)"
[ -n "$mirror" ] || mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1 || true)"
[ -n "$mirror" ] || mirror="http://deb.debian.org/debian"

rootfs="$(mktemp -d /var/tmp/pg-handover-rootfs-XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "build-image: debootstrap bookworm ($packages) from $mirror"
started=$SECONDS
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"
# The package's own cluster is not used (the sandbox runs initdb itself), nor are the downloads.
rm -rf "$rootfs"/var/lib/postgresql/15/main "$rootfs"/etc/postgresql/15/main \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*
echo "build-image: docker import $tag"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["sleep", "infinity"]' \
  --change 'LABEL pg-handover.image=sandbox' \
  - "$tag" >/dev/null
echo "build-image: $tag built in $((SECONDS - started)) s"
