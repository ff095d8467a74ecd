#!/usr/bin/env bash
# playwright.sh DIR - playwright-core (npm), which drives Chromium for tests/test_web.sh and the
# page's benchmark, in DIR/node_modules (build/npm: never committed), installed with npm when it
# is missing. Prints nothing and exits 0 when it is there; else one line saying why on stdout
# (the caller's reason to skip) and exits 1.
set -u
DIR=$1
VERSION=1.65.2                          # the version the test was written against
[ -f "$DIR/node_modules/playwright-core/package.json" ] && exit 0
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "no node and npm to install playwright-core with (make test-deps installs nodejs and npm)"; exit 1
fi
mkdir -p "$DIR"
if ! log=$(timeout 300 npm install --prefix "$DIR" --no-audit --no-fund --no-package-lock --no-save \
              --loglevel=error "playwright-core@$VERSION" 2>&1) \
   || [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
    echo "playwright-core@$VERSION could not be installed from npm: $(printf '%s' "$log" | tr '\n' ' ' | cut -c1-200)"
    exit 1
fi
