#!/usr/bin/env bash
#
# tests/bench/longpoll_fanout.sh - long-poll fan-out latency: N waiting
# long polls, one publish, how late each answer comes; squalld next to
# Tornado.
#
# Servers, one at a time, pinned to the server CPU: squalld with 2 workers
# (and its hub: 4 processes) and, when -o has squall1, with 1 worker;
# Tornado with tests/bench/tornado_chat.py (1 process, Tornado's demos/chat
# pattern: a set of waiting futures). The subscribe route is /sub/{room}
# (squalld: subscribe: {channel: "b.{room}", poll_timeout: 60s}), the
# publish route /pub/{room}. The client is lp_client.c, built here with
# cc -O2 and pinned to the client CPU: it opens N keep-alive connections
# (from 127.0.0.2 .. 127.0.0.5) and sends one long-poll GET on each; once
# all are sent it waits SETTLE ms, then publishes one message on a
# connection of its own and times, for each subscriber, the publish's
# write to the read that completed its answer. A round is counted only when
# the publish's answer reports "subscribers": N (every request was waiting
# when the message came: deterministic, from the server itself) and all N
# answers arrived with the published body. Each round re-polls on the same
# connections (squalld: with ?position= of the last message) and
# publishes again.
#
# The result is a markdown report on stdout: per server and round the
# subscribers the publish reached, the answers received, latency p50, p99
# and max; then the median over the rounds, and the ratio of Tornado's
# p99 to squalld's. Target (from the issue): squalld's p99 <= 1/4 of
# Tornado's. A missed target is reported, not an error: the exit status is
# 0 once every server was measured, 1 when one could not be started, lost
# or mangled a message, or (squalld) did not exit 0 at SIGTERM, 2 for a
# usage error or a missing tool.
#
# Needs: a built squalld, python3-tornado, curl, ss (iproute2), taskset,
# a C compiler.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
ROOT=$(cd "$BENCH_DIR/../.." && pwd)

conns=5000
rounds=5
settle=2000
timeout=60
servers=squall,squall1,tornado
server_cpu=1
client_cpu=0
base_port=18580
keep=0
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}

# shellcheck source=tests/bench/pubsub_common.sh
. "$BENCH_DIR/pubsub_common.sh"

usage() {
	cat <<EOF
usage: $0 [options]

  -n N        waiting long polls per round (default $conns)
  -r N        rounds per server (default $rounds)
  -s MS       settle time between the last request sent and the publish
              (default $settle)
  -t SECONDS  deadline for the connections, and for each round's answers
              (default $timeout)
  -o LIST     servers, comma-separated, from squall (2 workers), squall1
              (1 worker), tornado (default $servers)
  -x PATH     squalld to run (default \$SQUALLD, else build/src/squalld)
  -S CPU      CPU the servers are pinned to (default $server_cpu)
  -C CPU      CPU the client is pinned to (default $client_cpu)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -k          keep the temporary directory (configs, logs, client output)
  -h          this help
EOF
}

while getopts 'n:r:s:t:o:x:S:C:p:kh' opt; do
	case $opt in
	n) conns=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) settle=$OPTARG ;;
	t) timeout=$OPTARG ;;
	o) servers=$OPTARG ;;
	x) squalld=$OPTARG ;;
	S) server_cpu=$OPTARG ;;
	C) client_cpu=$OPTARG ;;
	p) base_port=$OPTARG ;;
	k) keep=1 ;;
	h)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || die "unexpected argument '$1' (see -h)"
for v in "$conns" "$rounds" "$settle" "$timeout" "$server_cpu" "$client_cpu" "$base_port"; do
	[[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a non-negative integer"
done
((conns >= 1 && conns <= 19000)) || die "-n must be in 1..19000 (Tornado holds them all in one process)"
((rounds >= 1)) || die "-r must be at least 1"
((timeout >= 1)) || die "-t must be at least 1"
((base_port >= 1024 && base_port < 65000)) || die "-p must be in 1024..64999"
next_port=$base_port
IFS=, read -ra server_list <<<"$servers"
for s in "${server_list[@]}"; do
	case $s in
	squall | squall1 | tornado) ;;
	*) die "unknown server '$s' in -o (squall, squall1, tornado)" ;;
	esac
done

need taskset util-linux
need curl curl
need ss iproute2
need awk mawk
need "${CC:-cc}" gcc
[[ -x $PY ]] || die "$PY not found: install the Debian package python3-tornado"
"$PY" -c 'import tornado.web' 2>/dev/null ||
	die "Tornado not importable by $PY: install the Debian package python3-tornado"
[[ -x $squalld ]] || die "no squalld at '$squalld': build it or pass -x"
squalld=$(cd "$(dirname "$squalld")" && pwd)/$(basename "$squalld")
for cpu in "$server_cpu" "$client_cpu"; do
	taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (see -S/-C)"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
[[ $nofile == unlimited ]] || ((conns + 64 <= nofile)) ||
	die "-n $conns needs more open files than one process may have ($nofile)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-lpbench.XXXXXX")
server_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_pid "$server_pid"
	if ((keep)); then note "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_client lp_client "$TMP" || exit 1
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

status=0
declare -A problems cpu_of label_of
label_of[squall]="squall (2 workers + hub)"
label_of[squall1]="squall (1 worker + hub)"
label_of[tornado]="Tornado (1 process)"

for s in "${server_list[@]}"; do
	dir=$TMP/$s
	mkdir -p "$dir"
	free_port
	case $s in
	squall) squall_pubsub_config "$dir" "$port" 2 60s && kind=squall ;;
	squall1) squall_pubsub_config "$dir" "$port" 1 60s && kind=squall ;;
	tornado) kind=chat ;;
	esac
	note "starting $s on port $port"
	start_pubsub_server "$kind" "$dir" "$port" "$server_cpu"
	if ! wait_publish "$server_pid" "$port" "$dir"; then
		problems[$s]="could not be started"
		status=1
		stop_pid "$server_pid"
		server_pid=
		continue
	fi
	t0=$(server_ticks "$server_pid")
	if ! taskset -c "$client_cpu" "$TMP/lp_client" -p "$port" -n "$conns" -r "$rounds" \
		-s "$settle" -t "$timeout" >"$dir/client.out" 2>"$dir/client.err"; then
		problems[$s]="client: $(head -n 1 "$dir/client.err")"
		note "the client failed against $s: $(cat "$dir/client.err")"
		status=1
	fi
	t1=$(server_ticks "$server_pid")
	cpu_of[$s]=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN {
		split(a, x); split(b, y); printf "%.2f", (y[1] + y[2] - x[1] - x[2]) / hz }')
	sed 's/^/  /' "$dir/client.out" >&2
	stop_pid "$server_pid"
	server_pid=
	if ((stop_status != 0)); then
		problems[$s]+="${problems[$s]:+; }exit status $stop_status after SIGTERM"
		[[ $kind != squall ]] || status=1
	fi
	if awk -v n="$conns" '$1 == "round" && ($4 != n || $6 != n) { bad = 1 }
		END { exit !bad }' "$dir/client.out"; then
		problems[$s]+="${problems[$s]:+; }a round reached fewer than $conns waiting subscribers (raise -s)"
	fi
done

# median over the rounds of field F ("p50" ...) in server S's output
median() { # server, field name
	awk -v f="$2" '$1 == "round" { for (i = 1; i < NF; i++) if ($i == f) v[n++] = $(i + 1) }
	END {
		if (n == 0) exit
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		printf "%.1f", (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
	}' "$TMP/$1/client.out" 2>/dev/null
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cat <<EOF

## squall long-poll fan-out benchmark

- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- nproc: $(nproc), CPU: ${cpu_model:-unknown}
- $conns waiting long polls (GET /sub/room, keep-alive, from 127.0.0.2..5), one publish (POST /pub/room) per round, $rounds rounds, ${settle} ms settle before each publish
- servers on CPU $server_cpu, one at a time; client (lp_client.c, 1 thread, epoll) on CPU $client_cpu
- latency: from the publish's write to the read that completed each subscriber's answer
- versions: $("$squalld" -V 2>/dev/null | head -n 1), $(tornado_version)

| server | round | subscribers waiting | answers | p50 ms | p99 ms | max ms | first ms |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for s in "${server_list[@]}"; do
	[[ -f $TMP/$s/client.out ]] || continue
	awk -v l="${label_of[$s]}" '$1 == "round" {
		printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, $2, $4, $6, $8, $10, $12, $14 }' \
		"$TMP/$s/client.out"
done
cat <<EOF

| server | median p50 ms | median p99 ms | median max ms | server CPU s (all rounds) | client CPU (user + sys s) |
|---|---:|---:|---:|---:|---:|
EOF
for s in "${server_list[@]}"; do
	[[ -f $TMP/$s/client.out ]] || continue
	printf '| %s | %s | %s | %s | %s | %s |\n' "${label_of[$s]}" \
		"$(median "$s" p50)" "$(median "$s" p99)" "$(median "$s" max)" "${cpu_of[$s]:-n/a}" \
		"$(awk '$1 == "user" { print $2 " + " $4 }' "$TMP/$s/client.out")"
done
printf '\n### ratios\n\n'
for s in squall squall1; do
	[[ ,$servers, == *,$s,* && ,$servers, == *,tornado,* ]] || continue
	p=$(median "$s" p99) || p=
	t=$(median tornado p99) || t=
	if [[ -n $p && -n $t ]]; then
		awk -v l="${label_of[$s]}" -v a="$t" -v b="$p" 'BEGIN {
			r = (b > 0) ? a / b : 0
			printf "- Tornado p99 / %s p99: %.1fx (target >= 4x, squall p99 <= 1/4 of Tornado): target %s\n",
				l, r, (r >= 4) ? "met" : "missed" }'
	else
		printf -- '- Tornado p99 / %s p99: n/a\n' "${label_of[$s]}"
	fi
done
for s in "${server_list[@]}"; do
	[[ -z ${problems[$s]:-} ]] || printf -- '- problems with %s: %s\n' "$s" "${problems[$s]}"
done
exit "$status"
