# shellcheck shell=bash disable=SC2034  # ENGINE, ENGINE_FLAGS, ENGINE_NAME are for the caller
# Sourced by docker/image.sh and docker/smoke.sh: which container engine to drive, and how.
#   CONTAINER_ENGINE=docker|podman forces one; otherwise docker when a Docker daemon answers
#   (`docker --version` alone proves nothing: the client installs without a daemon), else podman.
# Sets ENGINE (the command, as an array) and ENGINE_FLAGS (options for `build` and `run`).

container_engine_detect() {
    local name=${CONTAINER_ENGINE:-}
    if [ -z "$name" ]; then
        if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
            name=docker
        elif command -v podman >/dev/null 2>&1; then
            name=podman
        else
            echo "no container engine: no Docker daemon answers and podman is not installed" >&2
            echo "(on Debian: apt-get install --no-install-recommends podman runc)" >&2
            return 1
        fi
    fi
    case "$name" in
        docker)
            ENGINE=(docker)
            ENGINE_FLAGS=(--network host)
            ;;
        podman)
            # runc, explicit limits and the host's network: what podman needs on machines that run
            # inside a sandbox (no crun, no inherited ulimits, no bridge or slirp networking).
            ENGINE=(podman --runtime "${PODMAN_RUNTIME:-runc}")
            ENGINE_FLAGS=(--network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
            ;;
        *)
            echo "CONTAINER_ENGINE=$name: expected docker or podman" >&2
            return 1
            ;;
    esac
    ENGINE_NAME=$name
}
