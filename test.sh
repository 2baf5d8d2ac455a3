#!/usr/bin/env bash
# Runs the whole test suite: go vet, go test -race ./..., then every fuzz target for a
# bounded time (./fuzz.sh; FUZZTIME=0 skips it). Installs what the tests need and is
# missing: redis-server (and redis-cli) and chromium, through apt-get.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go vet ./...
go test -race -count=1 -timeout 30m "$@" ./...
if [ "${FUZZTIME:-8s}" != "0" ]; then
	./fuzz.sh
fi
