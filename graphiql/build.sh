#!/usr/bin/env bash
# Rebuilds GraphiQL's assets in schema/static/ from the versions pinned in package-lock.json.
# Needs Node 20+ and the npm registry; the service itself never needs Node, because the built
# files are committed. Run it (or `make graphiql`) after changing anything in this folder.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs
