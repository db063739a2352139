#!/usr/bin/env bash
# Runs the whole test suite (unit tests and fixture parity cases) of a build folder.
# Usage: scripts/test.sh [build-dir]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)"
