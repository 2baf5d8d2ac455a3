#!/usr/bin/env bash
# bench/run.sh: the gate, the API and the alternatives under the same wrk load, in one run.
# See bench/README.md. Everything listens on 127.0.0.1, every step has a time limit, and
# every process this script starts is stopped when it ends (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_SECONDS=${BENCH_MAX_SECONDS:-1200} # the whole run, builds included
# The whole run lives under timeout(1): past MAX_SECONDS the script gets SIGTERM and cleans up.
if [[ -z ${BENCH_TIMED:-} ]]; then
	BENCH_TIMED=1 exec timeout -s TERM "$MAX_SECONDS" "$0" "$@"
fi

THREADS=${WRK_THREADS:-1}
CONNS=${WRK_CONNS:-32}
DURATION=${WRK_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
PORT=${BENCH_PORT_BASE:-18400}
OUT=${BENCH_OUT:-bench/results}

secs=${DURATION%s}
[[ $secs =~ ^[0-9]+$ ]] || { echo "WRK_DURATION must be whole seconds, such as 10s" >&2; exit 2; }

need() { # need <command> <debian package>
	command -v "$1" >/dev/null && return
	echo "installing $2" >&2
	local sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
	$sudo apt-get update -qq && $sudo apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need redis-server redis-server
need curl curl

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports: PORT+0.. sites of our Caddy, +20.. the peers, +30.. caddy-security.
P_RESPOND=$((PORT)) P_GATE=$((PORT + 1)) P_PROXY=$((PORT + 2)) P_GATE_PROXY=$((PORT + 3))
P_FWD=$((PORT + 4)) P_API=$((PORT + 5)) P_ADMIN=$((PORT + 9))
P_UPSTREAM=$((PORT + 20)) P_AUTH=$((PORT + 21)) P_SNS=$((PORT + 22)) P_REDIS=$((PORT + 23))
P_CS=$((PORT + 30)) P_CS_ADMIN=$((PORT + 39))

export BENCH_SECRET=bench-secret-0123456789abcdef0123456789
export BENCH_KEY=bench-template-key-0123456789
export BENCH_JWT_KEY=bench-jwt-shared-key-0123456789abcdef
AUTH_COOKIE=auth_session=bench-session-0123456789
# The AWS SDK in Caddy talks to the SNS double only.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SNS AWS_SESSION_TOKEN

echo "== build" >&2
timeout 600 go build -o "$WORK/caddy" ./cmd/caddy
(cd bench/caddysecurity && timeout 600 go build -o "$WORK/caddy-security" .)
timeout 300 go build -o "$WORK/benchtool" ./bench/benchtool

echo "== start" >&2
redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
	>"$WORK/redis.log" 2>&1 &
PIDS+=($!)
"$WORK/benchtool" serve -upstream 127.0.0.1:$P_UPSTREAM -auth 127.0.0.1:$P_AUTH \
	-sns 127.0.0.1:$P_SNS -cookie "$AUTH_COOKIE" >"$WORK/benchtool.log" 2>&1 &
PIDS+=($!)

cat >"$WORK/Caddyfile" <<CADDY
{
	admin 127.0.0.1:$P_ADMIN
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	otp {
		secret {env.BENCH_SECRET}
		store redis {
			address 127.0.0.1:$P_REDIS
		}
		sender sns {
			region us-east-1
			endpoint http://127.0.0.1:$P_SNS
		}
		budget {
			daily 1000000
			monthly 10000000
		}
		lockout {
			after 100
		}
		template bench {
			key {env.BENCH_KEY}
			ttl 10m
			attempts 10
			resend 0s
			limit mobile 1000000 1h
			limit ip 1000000000 1h
			limit prefix 1000000000 1h
			limit template 1000000000 24h
		}
	}
}
http://:$P_RESPOND {
	respond "ok"
}
http://:$P_GATE {
	otp_gate bench {
		allow any
		session 12h
	}
	respond "ok"
}
http://:$P_PROXY {
	reverse_proxy 127.0.0.1:$P_UPSTREAM
}
http://:$P_GATE_PROXY {
	otp_gate bench {
		allow any
		session 12h
	}
	reverse_proxy 127.0.0.1:$P_UPSTREAM
}
http://:$P_FWD {
	forward_auth 127.0.0.1:$P_AUTH {
		uri /check
		copy_headers Remote-User
	}
	respond "ok"
}
http://:$P_API {
	otp_api
}
CADDY

cat >"$WORK/Caddyfile.security" <<CADDY
{
	admin 127.0.0.1:$P_CS_ADMIN
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	order authorize before respond
	security {
		authorization policy benchpolicy {
			crypto key verify {env.BENCH_JWT_KEY}
			set auth url /auth
			allow roles authp/admin
		}
	}
}
http://:$P_CS {
	authorize with benchpolicy
	respond "ok"
}
CADDY

"$WORK/caddy" run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
PIDS+=($!)
"$WORK/caddy-security" run --config "$WORK/Caddyfile.security" --adapter caddyfile >"$WORK/caddy-security.log" 2>&1 &
PIDS+=($!)

wait_port() { # wait_port <port> <what>
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return
		sleep 0.1
	done
	echo "bench: $2 did not come up on port $1; its log:" >&2
	cat "$WORK"/*.log >&2
	exit 1
}
wait_port "$P_RESPOND" caddy
wait_port "$P_CS" caddy-security
wait_port "$P_UPSTREAM" benchtool
redis-cli -p "$P_REDIS" ping >/dev/null

expect() { # expect <status> <url> [curl args…]
	local want=$1 url=$2 got
	shift 2
	got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url")
	[[ $got == "$want" ]] || { echo "bench: expected $want from $url, got $got; logs in $WORK" >&2; tail -20 "$WORK/caddy.log" "$WORK/caddy-security.log" >&2; exit 1; }
}

# Tokens are minted for each round just before use: a gate token older than a minute
# would make the gate send a refreshed cookie on every request.
mint() {
	"$WORK/benchtool" sessions -secret "$BENCH_SECRET" -realm bench -n 1000 >"$WORK/sessions.txt"
	"$WORK/benchtool" jwt -key "$BENCH_JWT_KEY" -n 1000 >"$WORK/jwts.txt"
	SESSION=$(head -1 "$WORK/sessions.txt")
	JWT=$(head -1 "$WORK/jwts.txt")
}
mint
# Every token must be let through, and nothing without one.
expect 401 "http://127.0.0.1:$P_GATE/"
expect 401 "http://127.0.0.1:$P_FWD/"
expect 302 "http://127.0.0.1:$P_CS/" # caddy-security redirects to the auth url
expect 200 "http://127.0.0.1:$P_GATE_PROXY/" -H "Cookie: otp_session=$SESSION"
expect 200 "http://127.0.0.1:$P_FWD/" -H "Cookie: $AUTH_COOKIE"
while read -r t; do expect 200 "http://127.0.0.1:$P_GATE/" -H "Cookie: otp_session=$t"; done <"$WORK/sessions.txt"
while read -r t; do expect 200 "http://127.0.0.1:$P_CS/" -H "Cookie: access_token=$t"; done <"$WORK/jwts.txt"

if [[ ${BENCH_HOLD:-0} != 0 ]]; then
	echo "== holding for ${BENCH_HOLD}s: caddy admin (pprof) 127.0.0.1:$P_ADMIN, respond :$P_RESPOND, gate :$P_GATE," \
		"proxy :$P_PROXY, gate+proxy :$P_GATE_PROXY, forward_auth :$P_FWD, api :$P_API, caddy-security :$P_CS" >&2
	echo "   session cookie: otp_session=$SESSION" >&2
	sleep "$BENCH_HOLD" &
	PIDS+=($!)
	wait $!
	exit 0
fi

mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
printf 'round\trow\treq_per_s\tnon_2xx\tnote\n' >"$RESULTS"

metric() { # metric <series and labels regexp>: the sum of the matching samples
	curl -s --max-time 5 "http://127.0.0.1:$P_ADMIN/metrics" |
		awk -v re="^$1" '$0 ~ re { s += $NF } END { printf "%d", s }'
}

run_wrk() { # run_wrk <round> <row> <url> [wrk args…]; prints the rate
	local round=$1 row=$2 url=$3 out rps non
	shift 3
	out=$(timeout $((${DURATION%s} + 30)) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$@" "$url")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	non=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
	printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$rps" "${non:-0}" "${NOTE:-}" >>"$RESULTS"
	printf '  %-28s %10s req/s  non-2xx %s %s\n' "$row" "$rps" "${non:-0}" "${NOTE:-}" >&2
}

echo "== warm-up" >&2
for u in $P_RESPOND $P_GATE $P_PROXY $P_GATE_PROXY $P_FWD $P_CS; do
	timeout 20 wrk -t1 -c"$CONNS" -d2s -H "Cookie: otp_session=$SESSION; access_token=$JWT; $AUTH_COOKIE" \
		"http://127.0.0.1:$u/" >/dev/null
done

for round in $(seq "$ROUNDS"); do
	echo "== round $round" >&2
	mint
	NOTE=
	run_wrk "$round" respond "http://127.0.0.1:$P_RESPOND/"
	BENCH_COOKIE=otp_session BENCH_TOKENS=$WORK/sessions.txt \
		run_wrk "$round" respond_lua "http://127.0.0.1:$P_RESPOND/" -s bench/rotate.lua
	# the one-session gate against respond sent the same cookie, in turns: which goes first
	# alternates between rounds, so that a drift of the machine favours neither
	if ((round % 2)); then
		run_wrk "$round" respond_cookie "http://127.0.0.1:$P_RESPOND/" -H "Cookie: otp_session=$SESSION"
		run_wrk "$round" gate_1 "http://127.0.0.1:$P_GATE/" -H "Cookie: otp_session=$SESSION"
	else
		run_wrk "$round" gate_1 "http://127.0.0.1:$P_GATE/" -H "Cookie: otp_session=$SESSION"
		run_wrk "$round" respond_cookie "http://127.0.0.1:$P_RESPOND/" -H "Cookie: otp_session=$SESSION"
	fi
	BENCH_COOKIE=otp_session BENCH_TOKENS=$WORK/sessions.txt \
		run_wrk "$round" gate_1000 "http://127.0.0.1:$P_GATE/" -s bench/rotate.lua
	run_wrk "$round" security_1 "http://127.0.0.1:$P_CS/" -H "Cookie: access_token=$JWT"
	BENCH_COOKIE=access_token BENCH_TOKENS=$WORK/jwts.txt \
		run_wrk "$round" security_1000 "http://127.0.0.1:$P_CS/" -s bench/rotate.lua
	run_wrk "$round" proxy "http://127.0.0.1:$P_PROXY/"
	run_wrk "$round" gate_1_proxy "http://127.0.0.1:$P_GATE_PROXY/" -H "Cookie: otp_session=$SESSION"
	BENCH_COOKIE=otp_session BENCH_TOKENS=$WORK/sessions.txt \
		run_wrk "$round" gate_1000_proxy "http://127.0.0.1:$P_GATE_PROXY/" -s bench/rotate.lua
	run_wrk "$round" forward_auth "http://127.0.0.1:$P_FWD/" -H "Cookie: $AUTH_COOKIE"

	# The API against Redis and the SNS double. Sends go to new mobiles; the codes they
	# carried are then verified wrong (a few times each: attempts is 10) and right (once).
	base=$((round * 10000000))
	curl -s --max-time 5 -X POST "http://127.0.0.1:$P_SNS/_forget" >/dev/null
	sent0=$(metric 'caddy_otp_sms_sends_total\{.*outcome="sent"')
	NOTE= BENCH_MOBILE_BASE=$base run_wrk "$round" send_otp "http://127.0.0.1:$P_API/send-otp" -s bench/send.lua
	curl -s --max-time 30 "http://127.0.0.1:$P_SNS/_codes" >"$WORK/codes.txt"
	codes=$(wc -l <"$WORK/codes.txt")
	echo "    sent $(($(metric 'caddy_otp_sms_sends_total\{.*outcome="sent"') - sent0)), codes at the double $codes" >&2

	inc0=$(metric 'caddy_otp_verifications_total\{.*outcome="incorrect"')
	oth0=$(metric 'caddy_otp_verifications_total\{.*outcome="(burned|expired|locked)"')
	BENCH_CODES=$WORK/codes.txt BENCH_WRONG=1 run_wrk "$round" verify_wrong "http://127.0.0.1:$P_API/verify-otp" -s bench/verify.lua
	echo "    incorrect $(($(metric 'caddy_otp_verifications_total\{.*outcome="incorrect"') - inc0)), burned/expired/locked $(($(metric 'caddy_otp_verifications_total\{.*outcome="(burned|expired|locked)"') - oth0))" >&2

	ver0=$(metric 'caddy_otp_verifications_total\{.*outcome="verified"')
	# wrk always runs for its whole duration, so right codes (each usable once) get a
	# duration that the pool outlasts: 80% of the pool at the wrong-code rate, at least 1s.
	wrong_rps=$(awk -v r="$round" '$1 == r && $2 == "verify_wrong" { print $3 }' "$RESULTS")
	rdur=$(awk -v n="$codes" -v r="$wrong_rps" -v d="$secs" 'BEGIN { t = int(0.8 * n / (r > 0 ? r : 1)); if (t < 1) t = 1; if (t > d) t = d; print t }')
	DURATION=${rdur}s NOTE="pool $codes, -d${rdur}s" BENCH_CODES=$WORK/codes.txt \
		run_wrk "$round" verify_right "http://127.0.0.1:$P_API/verify-otp" -s bench/verify.lua
	verified=$(($(metric 'caddy_otp_verifications_total\{.*outcome="verified"') - ver0))
	echo "    verified $verified of $codes" >&2
	((verified < codes)) || echo "bench: round $round: the right codes ran out before wrk stopped; verify_right is low" >&2

	out=$(timeout $((secs + 30)) "$WORK/benchtool" cycle -api "http://127.0.0.1:$P_API" -key "$BENCH_KEY" \
		-sns "http://127.0.0.1:$P_SNS" -c "$CONNS" -d "$DURATION" -base $((base + 5000000)))
	printf '%s\tcycle\t%s\t%s\t%s\n' "$round" "$(awk '{ print $8 }' <<<"$out")" "$(awk '{ print $4 }' <<<"$out")" "send+code+verify" >>"$RESULTS"
	echo "  cycle                        $out" >&2
done

{
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
	echo "go: $(go version | awk '{ print $3 }'), caddy: $("$WORK/caddy" version | awk '{ print $1 }'), caddy-security: v1.1.64, $(redis-server --version | awk '{ print $1, $2, $3 }'), $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
	echo "wrk: -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
} >"$OUT/machine.txt"
"$WORK/benchtool" summary "$RESULTS" "$OUT/machine.txt" | tee "$OUT/summary.md"
