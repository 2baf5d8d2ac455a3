#!/usr/bin/env bash
# Runs the whole test suite: go vet, go test -race ./..., then every fuzz target for a
# bounded time (./fuzz.sh; FUZZTIME=0 skips it). Installs what the tests need and is
# missing: redis-server (and redis-cli), chromium and npm, through apt-get, and axe-core (the
# browser tests' accessibility checker), through npm into ~/.cache/caddyotp-axe.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm) # for axe-core, below
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# axe-core for the browser tests (integration/axe_test.go reads it from here, or from
# $CADDYOTP_AXE), kept out of the repository and of any package.json.
AXE_DIR="$HOME/.cache/caddyotp-axe"
if [ -z "${CADDYOTP_AXE:-}" ] && [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
	echo "installing: axe-core 4 (npm)"
	npm install --no-save --no-audit --no-fund --prefix "$AXE_DIR" axe-core@4 >/dev/null
fi

go vet ./...
go test -race -count=1 -timeout 30m "$@" ./...
if [ "${FUZZTIME:-8s}" != "0" ]; then
	./fuzz.sh
fi
