#!/usr/bin/env bash
# Build the aios container image without any container registry.
#
#   containers/build-image.sh [--force] [--rebuild-base]
#
# 1. base image: `debootstrap --variant=minbase bookworm` into a temporary directory, then
#    `tar | podman import` as $AIOS_BASE_IMAGE (default localhost/aios-base:bookworm). Made once;
#    --rebuild-base makes it again.
# 2. the aios wheel, built from this checkout (a copy of it, so the checkout stays clean).
# 3. `podman build -f containers/Containerfile` FROM that base: Debian packages from the Debian
#    mirror, Python packages from PyPI pinned by requirements.lock, then the wheel.
#
# The result, $AIOS_IMAGE (default localhost/aios:latest), carries the label
# org.aios.source-hash (Containerfile + requirements.lock + pyproject.toml + src/). When an image
# with the same hash exists the script does nothing (prints "up to date"); --force rebuilds.
#
# Needs root, podman, runc and debootstrap (./dev setup installs them). Podman is run with
# CONTAINERS_CONF=containers/containers.conf unless CONTAINERS_CONF is already set: Podman 4.3
# from Debian does not start containers here without it (docs/containers.md).
#
# Environment: AIOS_IMAGE, AIOS_BASE_IMAGE, DEBIAN_MIRROR (http://deb.debian.org/debian),
# PYTHON (the Python that builds the wheel; default .venv/bin/python, else python3),
# AIOS_BUILD_CA: a CA bundle pip inside the build trusts, for hosts behind a TLS-inspecting
# proxy (default: $PIP_CERT, else $SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt, when
# the file exists; "none" turns it off). It is bind-mounted for the build only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
IMAGE="${AIOS_IMAGE:-localhost/aios:latest}"
BASE="${AIOS_BASE_IMAGE:-localhost/aios-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$HERE/containers.conf}"
CA="${AIOS_BUILD_CA:-${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}"
if [ "$CA" = none ] || [ ! -f "$CA" ]; then CA=""; fi
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

force=0
rebuild_base=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --rebuild-base) rebuild_base=1; force=1 ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-image.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '==> [%3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { echo "build-image.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and podman import need it)"
for tool in podman debootstrap tar sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install podman runc debootstrap uidmap (or ./dev setup)"
done

# One build at a time (two test runs may call this together).
exec 9>"/tmp/aios-build-image.lock"
flock 9

source_hash() {
    (
        cd "$REPO"
        {
            sha256sum containers/Containerfile requirements.lock pyproject.toml scripts/aios-runtime
            find src -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
        } | sha256sum | cut -c1-32
    )
}

HASH="$(source_hash)"
if [ "$force" -eq 0 ] && podman image exists "$IMAGE"; then
    have="$(podman image inspect --format '{{index .Labels "org.aios.source-hash"}}' "$IMAGE" 2>/dev/null || true)"
    if [ "$have" = "$HASH" ]; then
        log "$IMAGE is up to date (source hash $HASH)"
        exit 0
    fi
    log "$IMAGE exists but was built from other sources ($have); rebuilding"
fi

WORK="$(mktemp -d /tmp/aios-image.XXXXXX)"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# -- 1. the base image -------------------------------------------------------------------------
if [ "$rebuild_base" -eq 1 ] || ! podman image exists "$BASE"; then
    log "debootstrap --variant=minbase bookworm ($MIRROR)"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    log "podman import -> $BASE"
    tar -C "$WORK/rootfs" --numeric-owner -c . \
        | podman import -q --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE" >/dev/null
    rm -rf "$WORK/rootfs"
else
    log "base image $BASE exists"
fi

# -- 2. the wheel, from a copy of the sources (an in-tree build would leave build/ behind) -----
log "building the aios wheel with $PYTHON"
mkdir -p "$WORK/src" "$WORK/ctx"
tar -C "$REPO" --exclude='__pycache__' --exclude='*.pyc' --exclude='*.egg-info' \
    -c pyproject.toml README.md src scripts/aios-runtime | tar -C "$WORK/src" -x
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$WORK/ctx" "$WORK/src" >/dev/null 2>"$WORK/wheel.log" \
    || "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK/ctx" "$WORK/src" >/dev/null 2>>"$WORK/wheel.log" \
    || { cat "$WORK/wheel.log" >&2; die "building the wheel failed"; }
cp "$REPO/requirements.lock" "$WORK/ctx/"

# -- 3. the image ------------------------------------------------------------------------------
log "podman build -> $IMAGE"
ca_args=()
if [ -n "$CA" ]; then
    ca_args=(--volume "$(readlink -f "$CA"):/tmp/aios-build-ca.crt:ro" --build-arg AIOS_BUILD_CA=/tmp/aios-build-ca.crt)
fi
podman build -q --layers --pull=never "${ca_args[@]}" \
    --build-arg "BASE_IMAGE=$BASE" \
    --label "org.aios.source-hash=$HASH" \
    -f "$HERE/Containerfile" -t "$IMAGE" "$WORK/ctx" >/dev/null
podman image prune -f >/dev/null 2>&1 || true
log "built $IMAGE (source hash $HASH) in ${SECONDS}s"
