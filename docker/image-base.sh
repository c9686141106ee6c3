#!/usr/bin/env bash
# `make image-base`: a stand-in for the python:3.11-slim-bookworm base image, built from Debian's
# packages alone, for machines that reach Debian's archive and PyPI but no image registry.
#
#   debootstrap --variant=minbase bookworm  ->  Python 3.11 (python3, pip, venv) from Debian,
#   `python` and `pip` on the PATH, the "externally managed" marker removed (as in the official
#   image, pip installs into the system Python), this machine's CA bundle  ->  `<engine> import`.
#
# The host's /etc/ssl/certs/ca-certificates.crt goes into the image and pip is pointed at it
# (PIP_CERT and /etc/pip.conf): where HTTPS downloads are verified against a local authority,
# `pip install` in the Dockerfile needs the same bundle as the host.
#
# Nothing comes from anywhere but Debian's archive (MIRROR) and, later, PyPI. Needs root and
# debootstrap. Does nothing when the image already exists (FORCE=1 rebuilds it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/engine.sh
source docker/engine.sh
container_engine_detect

BASE_IMAGE=${BASE_IMAGE:-localhost/pdi-python-base:3.11-bookworm}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [ "${FORCE:-0}" != 1 ] && "${ENGINE[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "image-base: $BASE_IMAGE exists, kept (FORCE=1 make image-base rebuilds it)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "image-base: debootstrap and chroot need root" >&2
    exit 1
fi
command -v debootstrap >/dev/null 2>&1 || {
    echo "image-base: debootstrap is missing (apt-get install --no-install-recommends debootstrap)" >&2
    exit 1
}
[ -r "$HOST_CA_BUNDLE" ] || {
    echo "image-base: no CA bundle at $HOST_CA_BUNDLE" >&2
    exit 1
}

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/pdi-base.XXXXXX")
rootfs=$work/rootfs
trap 'rm -rf "$work"' EXIT

echo "image-base: debootstrap --variant=minbase $SUITE ($MIRROR)"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "image-base: debootstrap failed (log above)" >&2
    exit 1
}

cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
# As in a slim image: no recommended or suggested packages.
cat >"$rootfs/etc/apt/apt.conf.d/90pdi-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

# pango and a font: WeasyPrint lays out the bilan's PDF with them (GET /bilan?format=pdf).
echo "image-base: apt-get install python3 python3-pip python3-venv ca-certificates pango fonts-dejavu-core"
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C sh -euc '
    apt-get update -qq
    apt-get upgrade -y -qq
    apt-get install -y -qq python3 python3-pip python3-venv ca-certificates \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
    apt-get clean
' >"$work/apt.log" 2>&1 || {
    tail -n 30 "$work/apt.log" >&2
    echo "image-base: apt-get in the chroot failed (log above)" >&2
    exit 1
}

version=$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = 3.11 ] || {
    echo "image-base: Debian $SUITE gave Python $version, not 3.11" >&2
    exit 1
}

# What the official image offers: `python` and `pip`, and pip free to install system-wide.
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
rm -f "$rootfs/usr/lib/python3.11/EXTERNALLY-MANAGED"

# This machine's authorities, for pip (and for Python's ssl module, which reads the same file).
cp "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"

# Leave nothing of this machine or of the build behind but the CA bundle.
rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/tmp/* "$rootfs"/root/.cache

echo "image-base: importing as $BASE_IMAGE"
tar --numeric-owner -C "$rootfs" -c . | "${ENGINE[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'LABEL pdi.stand-in-for=python:3.11-slim-bookworm' \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >"$work/import.log" 2>&1 || {
    cat "$work/import.log" >&2
    echo "image-base: import failed (log above)" >&2
    exit 1
}

"${ENGINE[@]}" run --rm "${ENGINE_FLAGS[@]}" "$BASE_IMAGE" python -c 'import ssl, venv, sys; print("image-base: Python", sys.version.split()[0])'
"${ENGINE[@]}" run --rm "${ENGINE_FLAGS[@]}" "$BASE_IMAGE" pip --version
echo "image-base: $BASE_IMAGE built in $(($(date +%s) - started)) s"
