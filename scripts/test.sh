#!/usr/bin/env bash
# The whole test suite: what README.md and .ci/run call.
# Starts Google's Firestore emulator on 127.0.0.1 for the store tests,
# always stops it again, and fails plainly if it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

# A state directory of our own, so we never stop an emulator someone
# started by hand (or another test.sh run in this checkout).
export FIRESTORE_EMULATOR_STATE_DIR="target/firestore-emulator/test-$$"
trap 'scripts/firestore-emulator.sh stop || true; rm -rf "$FIRESTORE_EMULATOR_STATE_DIR"' EXIT

if ! emulator_env=$(scripts/firestore-emulator.sh start); then
    echo "test.sh: the Firestore emulator did not start (see the messages above); the store tests need it" >&2
    exit 1
fi
export "${emulator_env?}"
# An emulator-only project id; never a real project, never real credentials.
export GOOGLE_CLOUD_PROJECT=demo-tradecycle-test
unset GOOGLE_APPLICATION_CREDENTIALS

cargo test --locked --workspace "$@"
