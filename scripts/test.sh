#!/usr/bin/env bash
# The whole test suite: what README.md and .ci/run call.
# Later suites (Firestore emulator, fakes) are started and stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
