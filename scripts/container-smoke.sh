#!/usr/bin/env bash
# Smoke-runs a built tradecycle image: `--version`, `replay` and
# `run --paper` on the embedded default fixture set, each in a fresh
# container from the image's own working directory, no network, no
# credentials. Used by CI's container job and by tests/container.rs.
#
#   scripts/container-smoke.sh IMAGE
set -euo pipefail
image=${1:?usage: scripts/container-smoke.sh IMAGE}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$(dirname "$0")/../Cargo.toml" | head -n 1)

run() { docker run --rm --network none "$image" "$@"; }

# The status field of the JSON report on stdin must be "ok".
expect_ok() {
    local what=$1 status
    status=$(jq -r .status)
    if [ "$status" != "ok" ]; then
        echo "container-smoke: $what reported status '$status', expected 'ok'" >&2
        return 1
    fi
    echo "container-smoke: $what ok"
}

got=$(run --version)
if [ "$got" != "tradecycle $version" ]; then
    echo "container-smoke: --version printed '$got', expected 'tradecycle $version'" >&2
    exit 1
fi
echo "container-smoke: $got"
run replay --format json | expect_ok replay
run run --paper --format json | expect_ok "run --paper"
