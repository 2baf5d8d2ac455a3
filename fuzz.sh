#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZTIME, default 8s each), one at a time:
# `go test -fuzz` takes one target per run. Fails if any target finds a failing input
# (written to the package's testdata/fuzz/<FuzzName>/ by go test: keep it as a regression).
set -euo pipefail
cd "$(dirname "$0")"
FUZZTIME="${FUZZTIME:-8s}"

targets=(
	"FuzzParse ./caddyotp/internal/phone"
	"FuzzValid ./caddyotp/internal/otpcode"
	"FuzzOpen ./caddyotp/session"
	"FuzzSealOpen ./caddyotp/session"
	"FuzzSessionTokens ./caddyotp"
	"FuzzSessionClaims ./caddyotp"
	"FuzzVerifyInput ./caddyotp"
	"FuzzDecodeStrict ./caddyotp"
	"FuzzCaddyfile ./caddyotp"
)
for t in "${targets[@]}"; do
	read -r name pkg <<<"$t"
	echo "fuzz: $name ($pkg, $FUZZTIME)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg"
done
