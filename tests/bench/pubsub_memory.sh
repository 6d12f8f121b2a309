#!/usr/bin/env bash
#
# tests/bench/pubsub_memory.sh - memory per idle pub/sub subscriber:
# long polls and WebSockets waiting on one channel, squalld next to
# Tornado.
#
# Four measurements, one server at a time: squalld (2 workers and the hub)
# with /sub/{room} (subscribe: channel "b.{room}", poll_timeout 30m) and
# /pub/{room}, once holding N waiting long polls and once N WebSocket
# subscribers (/sub/room upgraded); Tornado's tornado_chat.py (N waiting
# long polls: futures in a set) and tornado_ws_bcast.py (N WebSocketHandlers
# in a set), each one process. Each server is started on 127.0.0.1 and
# answers one publish (warm-up; it creates the channel), and the resident
# memory of its whole process tree is read (the sum of VmRSS of the
# process this script started and its descendants: squalld's master,
# workers and hub). Then the client holds N subscribers open, idle:
# lp_client.c -H (each connection sent one GET and waits for its answer)
# or ws_bcast_client.c -H (each connection upgraded and waits for
# messages), both built here with cc -O2, one process each, from the
# source addresses 127.0.0.2 .. 127.0.0.5. Once the client reports them
# all and ss counts N established server-side sockets on the port, the
# memory is read again: (after - before) / N is the memory one idle
# subscriber holds in the server's processes. Kernel memory (socket
# structures and buffers) is not in VmRSS and is not counted. The result
# is a markdown table on stdout.
#
# The exit status is 0 when every measurement was made, 1 when a server
# could not be started or did not hold the subscribers, or squalld did not
# exit 0 at SIGTERM, 2 for a usage error or a missing tool.
#
# Needs: a built squalld, python3-tornado, curl, ss (iproute2), a C
# compiler.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
ROOT=$(cd "$BENCH_DIR/../.." && pwd)

conns=15000
deadline=180
runs=squall-lp,tornado-lp,squall-ws,tornado-ws
base_port=18780
keep=0
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}

# shellcheck source=tests/bench/pubsub_common.sh
. "$BENCH_DIR/pubsub_common.sh"

usage() {
	cat <<EOF
usage: $0 [options]

  -n N        idle subscribers per measurement (default $conns)
  -o LIST     measurements, comma-separated, from squall-lp, tornado-lp,
              squall-ws, tornado-ws (default $runs)
  -t SECONDS  deadline to open and settle all subscribers (default $deadline)
  -x PATH     squalld to run (default \$SQUALLD, else build/src/squalld)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -k          keep the temporary directory (configs, logs)
  -h          this help
EOF
}

while getopts 'n:o:t:x:p:kh' opt; do
	case $opt in
	n) conns=$OPTARG ;;
	o) runs=$OPTARG ;;
	t) deadline=$OPTARG ;;
	x) squalld=$OPTARG ;;
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
for v in "$conns" "$deadline" "$base_port"; do
	[[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a non-negative integer"
done
((conns >= 1)) || die "-n must be at least 1"
((deadline >= 1)) || die "-t must be at least 1"
((base_port >= 1024 && base_port < 65000)) || die "-p must be in 1024..64999"
next_port=$base_port
IFS=, read -ra run_list <<<"$runs"
for r in "${run_list[@]}"; do
	case $r in
	squall-lp | tornado-lp | squall-ws | tornado-ws) ;;
	*) die "unknown measurement '$r' in -o" ;;
	esac
done

need curl curl
need ss iproute2
need awk mawk
need "${CC:-cc}" gcc
[[ -x $PY ]] || die "$PY not found: install the Debian package python3-tornado"
"$PY" -c 'import tornado.websocket' 2>/dev/null ||
	die "Tornado not importable by $PY: install the Debian package python3-tornado"
[[ -x $squalld ]] || die "no squalld at '$squalld': build it or pass -x"
squalld=$(cd "$(dirname "$squalld")" && pwd)/$(basename "$squalld")
# Tornado and the client each hold all N connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
[[ $nofile == unlimited ]] || ((conns + 64 <= nofile)) ||
	die "-n $conns needs more open files than one process may have ($nofile)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-psmem.XXXXXX")
server_pid=
client_pid=
hold_fd=

# Lets the client go (end of file on its standard input); after 10 s it
# is killed.
stop_client() {
	local i
	if [[ -n $hold_fd ]]; then
		exec {hold_fd}>&-
		hold_fd=
	fi
	[[ -n $client_pid ]] || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$client_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$client_pid" 2>/dev/null || true
	wait "$client_pid" 2>/dev/null || true
	client_pid=
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_client
	stop_pid "$server_pid"
	if ((keep)); then note "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_client lp_client "$TMP" || exit 1
build_client ws_bcast_client "$TMP" || exit 1

# Starts the client holding $conns subscribers of 127.0.0.1:$port and
# waits until it is ready and ss counts them; 1 when it failed or the
# deadline passed.
hold_subscribers() { # client, dir
	local dir=$2 end=$((SECONDS + deadline)) fifo=$2/hold n
	mkfifo "$fifo"
	exec {hold_fd}<>"$fifo" # read-write: does not wait for a reader
	"$TMP/$1" -p "$port" -n "$conns" -H -s 1000 -t "$deadline" \
		<"$fifo" {hold_fd}>&- >"$dir/client.out" 2>"$dir/client.err" &
	client_pid=$!
	while ((SECONDS < end)); do
		if ! kill -0 "$client_pid" 2>/dev/null; then
			note "the client failed: $(cat "$dir/client.err")"
			return 1
		fi
		if grep -q "^ready $conns\$" "$dir/client.out"; then
			n=$(established "$port")
			((n >= conns)) && return 0
		fi
		sleep 0.2
	done
	note "not all $conns subscribers held within $deadline s ($(established "$port") established)"
	return 1
}

status=0
declare -A before after nprocs problems
for r in "${run_list[@]}"; do
	dir=$TMP/$r
	mkdir -p "$dir"
	free_port
	case $r in
	squall-*) squall_pubsub_config "$dir" "$port" 2 30m && kind=squall ;;
	tornado-lp) kind=chat ;;
	tornado-ws) kind=wsbcast ;;
	esac
	case $r in
	*-lp) client=lp_client ;;
	*-ws) client=ws_bcast_client ;;
	esac
	note "$r: starting the server on port $port"
	start_pubsub_server "$kind" "$dir" "$port" ""
	if ! wait_publish "$server_pid" "$port" "$dir"; then
		problems[$r]="could not be started"
		status=1
		stop_pid "$server_pid"
		server_pid=
		continue
	fi
	sleep 0.5
	tree_rss "$server_pid"
	before[$r]=$rss_kb
	note "$r: $rss_kb kB in $nproc_tree processes; opening $conns subscribers"
	if hold_subscribers "$client" "$dir"; then
		sleep 1
		tree_rss "$server_pid"
		after[$r]=$rss_kb
		nprocs[$r]=$nproc_tree
		note "$r: $rss_kb kB with $conns idle subscribers"
		# still subscribed: a publish reaches them all
		body=$(curl -s -m 10 -X POST --data-binary bye "http://127.0.0.1:$port/pub/room") || body=
		[[ $body == *"\"subscribers\":$conns"* ]] ||
			problems[$r]="a publish after the measurement answered '$body', not $conns subscribers"
	else
		problems[$r]="did not hold $conns subscribers: $(head -n 1 "$dir/client.err")"
		status=1
	fi
	stop_client
	stop_pid "$server_pid"
	server_pid=
	if ((stop_status != 0)); then
		problems[$r]+="${problems[$r]:+; }exit status $stop_status after SIGTERM"
		[[ $kind != squall ]] || status=1
	fi
done

per() { # run: bytes per subscriber
	[[ -n ${after[$1]:-} ]] || return 0
	awk -v a="${after[$1]}" -v b="${before[$1]}" -v n="$conns" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }'
}
cat <<EOF

## squall memory per idle pub/sub subscriber

- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- $conns idle subscribers of one channel per measurement (long polls: GET /sub/room waiting; WebSocket: /sub/room upgraded), from 127.0.0.2..5, one client process
- RSS: summed VmRSS of the server's process tree (squalld: master, 2 workers, hub)
- versions: $("$squalld" -V 2>/dev/null | head -n 1), $(tornado_version)

| subscribers | server | processes | RSS before | RSS with $conns idle | bytes per subscriber | ÷ squall |
|---|---|---:|---:|---:|---:|---:|
EOF
for kind in lp ws; do
	sq=$(per "squall-$kind")
	for srv in squall tornado; do
		r=$srv-$kind
		[[ ,$runs, == *,$r,* ]] || continue
		b=$(per "$r")
		printf '| %s | %s | %s | %s kB | %s kB | %s | %s |\n' \
			"$([[ $kind == lp ]] && echo long poll || echo WebSocket)" \
			"$([[ $srv == squall ]] && echo "squall (2 workers + hub)" || echo "Tornado (1 process)")" \
			"${nprocs[$r]:-n/a}" "${before[$r]:-n/a}" "${after[$r]:-n/a}" "${b:-n/a}" \
			"$(awk -v a="${b:-}" -v s="${sq:-}" 'BEGIN { if (a != "" && s > 0) printf "%.1f×", a / s; else printf "n/a" }')"
	done
done
printf '\n'
for r in "${run_list[@]}"; do
	[[ -z ${problems[$r]:-} ]] || printf -- '- problems with %s: %s\n' "$r" "${problems[$r]}"
done
exit "$status"
