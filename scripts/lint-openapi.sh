#!/usr/bin/env bash
# Lints docs/openapi.yaml with Redocly CLI under docs/redocly.yaml (Redocly's recommended
# ruleset, warnings counted as errors). Exits non-zero on any problem.
# Needs Node.js >= 18.17 and npm (Debian 12's nodejs and npm: scripts/install-deps.sh --test);
# the pinned CLI is fetched from the npm registry into npm's cache on first use.
# Usage: scripts/lint-openapi.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# 1.34.x runs on Node 18.17+ (its `engines`); 2.x needs Node 20.19+, newer than Debian 12's.
readonly redocly_cli=@redocly/cli@1.34.20

command -v npx >/dev/null || {
  echo "lint-openapi: npx not found; install nodejs and npm (scripts/install-deps.sh --test)" >&2
  exit 1
}
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false REDOCLY_TELEMETRY=off \
  REDOCLY_SUPPRESS_UPDATE_NOTICE=true
npx --yes "$redocly_cli" lint --config docs/redocly.yaml docs/openapi.yaml
