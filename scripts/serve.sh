#!/usr/bin/env bash
# Builds strata (Release) and starts `strata serve` on its defaults:
# data in ./strata-data, HTTP on 127.0.0.1:8086. Extra arguments go to serve.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
cmake -S "$here" -B "$here/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build/release" --target strata -j"$(nproc)"
exec "$here/build/release/strata" serve "$@"
