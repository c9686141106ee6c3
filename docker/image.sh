#!/usr/bin/env bash
# `make image`: build the image (IMAGE, default catalogue-pdi) from the Dockerfile, on
# PYTHON_IMAGE (default python:3.11-slim-bookworm, from a registry; `make image-base` builds a
# local stand-in, localhost/pdi-python-base:3.11-bookworm), with docker when a Docker daemon
# answers, else podman (CONTAINER_ENGINE forces one: see docker/engine.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/engine.sh
source docker/engine.sh
container_engine_detect

IMAGE=${IMAGE:-catalogue-pdi}
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}

build_flags=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" --tag "$IMAGE")
if [ "$ENGINE_NAME" = podman ]; then
    # The Docker image format keeps HEALTHCHECK; OCI, podman's default, drops it.
    build_flags+=(--format docker)
fi

started=$(date +%s)
echo "image: building $IMAGE on $PYTHON_IMAGE with $ENGINE_NAME"
if ! "${ENGINE[@]}" build "${ENGINE_FLAGS[@]}" "${build_flags[@]}" .; then
    if ! "${ENGINE[@]}" image inspect "$PYTHON_IMAGE" >/dev/null 2>&1; then
        echo "image: the base $PYTHON_IMAGE is not here and could not be pulled. Where no image" >&2
        echo "registry is reachable: make image-base, then" >&2
        echo "  make image PYTHON_IMAGE=localhost/pdi-python-base:3.11-bookworm" >&2
    fi
    exit 1
fi
echo "image: $IMAGE built in $(($(date +%s) - started)) s"
