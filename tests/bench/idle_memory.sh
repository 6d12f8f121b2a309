#!/usr/bin/env bash
#
# tests/bench/idle_memory.sh - memory per idle keep-alive connection, or
# per idle WebSocket (-W), squalld next to Tornado.
#
# Each server is started on 127.0.0.1, answered once (warm-up), and the
# resident memory of its whole process tree is read: the sum of VmRSS in
# /proc/PID/status of the process this script started and all its
# descendants (squalld's master and 2 workers; Tornado's one process:
# tornado_hello.py does not fork). Then N keep-alive connections are
# opened by idle_clients.py, spread over CLIENTS processes, each bound to
# its own source address 127.0.0.X so ephemeral ports do not run out;
# each connection sends one "GET / HTTP/1.1", reads the answer and stays
# open, idle. Once every client has its answers and ss counts N
# established server-side sockets on the port, the memory is read again:
# (after - before) / N is the memory one idle connection holds in the
# server's processes. Kernel memory (socket structures, buffers) is not
# in VmRSS and not measured. The result is a markdown table on stdout.
#
# With -W the connections are WebSockets instead: squalld serves
# handlers/echo.so at /ws/echo (uncompressed), Tornado tornado_ws.py's
# WebSocketHandler echo, and each client connection does the opening
# handshake, sends one small text message, reads its echo and stays open,
# idle. The warm-up is 32 such connections, open at once so that both
# workers take some (a worker's first WebSocket touches memory once, some
# 3 MB, not per connection), then closed.
#
# The exit status is 0 when both servers were measured, 1 when one could
# not be started, did not hold the connections, or squalld did not exit 0
# at SIGTERM, 2 for a usage error or a missing tool.
#
# Needs: a built squalld with handlers/hello.so (-W: handlers/echo.so),
# python3-tornado (Debian's /usr/bin/python3 runs the clients too), curl,
# ss (iproute2).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
WS_PATH=/ws/echo

conns=15000
clients=4
window=32
deadline=180
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}
moddir=${SQUALL_MODULE_DIR:-$build/handlers}
base_port=18280
keep=0
ws=0

usage() {
	cat <<EOF
usage: $0 [options]

  -n N        idle connections per server (default $conns)
  -j N        client processes; each opens about N/j connections from
              its own source address (default $clients)
  -w N        connections each client has in progress at a time
              (default $window)
  -t SECONDS  deadline to open and answer all connections (default $deadline)
  -s PATH     squalld to run (default \$SQUALLD, else build/src/squalld
              or src/squalld of the repo)
  -m DIR      module directory holding hello.so and echo.so (default
              \$SQUALL_MODULE_DIR or the handlers/ next to that squalld)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -W          idle WebSockets at $WS_PATH, each after one echoed message,
              instead of idle keep-alive connections
  -k          keep the temporary directory (config, logs)
  -h          this help
EOF
}



while getopts 'n:j:w:t:s:m:p:Wkh' opt; do
	case $opt in
	n) conns=$OPTARG ;;
	j) clients=$OPTARG ;;
	w) window=$OPTARG ;;
	t) deadline=$OPTARG ;;
	s) squalld=$OPTARG ;;
	m) moddir=$OPTARG ;;
	p) base_port=$OPTARG ;;
	k) keep=1 ;;
	W) ws=1 ;;
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

for v in "$conns" "$clients" "$window" "$deadline" "$base_port"; do
	[[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a non-negative integer"
done
((conns >= 1)) || die "-n must be at least 1"
((clients >= 1 && clients <= 100)) || die "-j must be in 1..100"
((window >= 1)) || die "-w must be at least 1"
((deadline >= 1)) || die "-t must be at least 1 second"
((base_port >= 1024 && base_port < 65000)) || die "-p must be in 1024..64999"

# ---------------------------------------------------------------------------
# tools and limits


need curl curl
need ss iproute2
need awk mawk
[[ -x $PY ]] || die "$PY not found: install the Debian package python3-tornado"
$PY -c 'import tornado' 2>/dev/null ||
	die "Tornado not importable by $PY: install the Debian package python3-tornado"
[[ -x $squalld ]] ||
	die "no squalld at '$squalld': build it (autoreconf -fi && ./configure && make) or pass -s"
module=hello
((ws)) && module='echo'
[[ -f $moddir/$module.so ]] || die "no $module.so in '$moddir': build the handlers or pass -m"
squalld=$(cd "$(dirname "$squalld")" && pwd)/$(basename "$squalld")
moddir=$(cd "$moddir" && pwd)

# Everything started from here inherits the soft limit on open files; a
# process holds at most the hard limit. A squalld worker holds about half
# the connections, Tornado all of them, a client N/j, each plus a few.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
if [[ $nofile != unlimited ]] && ((conns + 64 > nofile)); then
	die "-n $conns needs more open files than one process may have ($nofile): Tornado holds them all"
fi

# ---------------------------------------------------------------------------
# temporary directory and cleanup

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-idle.XXXXXX")
server_pid=
client_pids=()
hold_fd=

# Lets the clients go: they read their standard input, a FIFO whose only
# writer is this script, and close their sockets at its end of file; after
# 10 s they are killed.
stop_clients() {
	local p i
	if [[ -n $hold_fd ]]; then
		exec {hold_fd}>&-
		hold_fd=
	fi
	for p in "${client_pids[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	client_pids=()
}

# Stops the server (stop_pid) and forgets it.
stop_server() {
	local pid=$server_pid
	server_pid=
	stop_pid "$pid"
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_clients
	stop_server
	if ((keep)); then
		note "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# processes and memory

# Sets rss_kb to the summed VmRSS of PID's tree, in kB, and rss_each to
# "pid:kB" of each process.
tree_rss() { # pid
	local p kb
	rss_kb=0
	rss_each=
	for p in $(tree_pids "$1"); do
		kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || kb=
		[[ -n $kb ]] || continue
		rss_kb=$((rss_kb + kb))
		rss_each+=" $p:${kb}kB"
	done
}

established() { # port
	ss -Htn state established "( sport = :$1 )" | wc -l
}

# " pid:N" for each process holding N of the established server-side
# sockets on PORT (how accept spread them over the workers); empty when
# ss cannot name the processes.
established_by_pid() { # port
	ss -Htnp state established "( sport = :$1 )" 2>/dev/null |
		grep -o 'pid=[0-9]*' | sort | uniq -c |
		awk '{ sub(/pid=/, "", $2); printf " %s:%s", $2, $1 }' || true
}

# ---------------------------------------------------------------------------
# ports and readiness


next_port=$base_port
free_port() { # sets $port
	while port_busy "$next_port" || (($(established "$next_port") > 0)); do
		next_port=$((next_port + 1))
	done
	port=$next_port
	next_port=$((next_port + 1))
}

show_logs() { # directory
	local f
	for f in "$1"/*.log; do
		[[ -s $f ]] || continue
		printf -- '--- %s\n' "$f" >&2
		tail -n 20 "$f" >&2
	done
}

# Whether the server answers as the clients expect: "Hello, world!" or,
# with -W, 32 WebSockets opened at once, echoed and closed (a complaint in
# DIR/ready.log).
answers() { # directory
	local body
	if ((ws)); then
		port_busy "$port" &&
			$PY "$BENCH_DIR/idle_clients.py" --port "$port" --source 127.0.0.1 \
				--count 32 --window 32 --deadline 5 --websocket "$WS_PATH" \
				</dev/null >/dev/null 2>"$1/ready.log"
	else
		body=$(curl -s -m 1 "http://127.0.0.1:$port/") || body=
		[[ $body == 'Hello, world!' ]]
	fi
}

# Waits until the server answers, or it died, or 15 s passed. The answer
# is the warm-up.
wait_ready() { # name, directory
	local deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			note "$1 exited during start-up"
			show_logs "$2"
			return 1
		fi
		answers "$2" && return 0
		sleep 0.1
	done
	note "$1 did not answer as expected on 127.0.0.1:$port within 15 s"
	show_logs "$2"
	return 1
}

# ---------------------------------------------------------------------------
# the servers: each start_* writes its config into DIR, starts the server
# in the background (server_pid) with its output in DIR/*.log, on $port

# shellcheck disable=SC2317 # called as start_$name
start_squall() { # directory
	local dir=$1
	cat >"$dir/squall.yaml" <<EOF
# written by tests/bench/idle_memory.sh
server:
  listen: ["127.0.0.1:$port"]
  workers: 2
  shutdown_timeout: 5s
  limits:
    max_connections: 20000
    idle_timeout: 10m
log:
  level: warn
  error: $dir/error.log
  access: off
modules:
  $module: { path: $module.so }
routes:
EOF
	if ((ws)); then
		echo "  - { path: $WS_PATH, websocket: \"echo:echo\" }"
	else
		echo "  - { path: /, handler: hello:hello }"
	fi >>"$dir/squall.yaml"
	"$squalld" -m "$moddir" -c "$dir/squall.yaml" >"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# tornado_hello.py, tornado_ws.py: one process, one IOLoop (neither has
# an option to fork).
# shellcheck disable=SC2317 # called as start_$name
start_tornado() { # directory
	local dir=$1 app=(tornado_hello.py)
	((ws)) && app=(tornado_ws.py --path "$WS_PATH")
	$PY "$BENCH_DIR/${app[0]}" "${app[@]:1}" --address 127.0.0.1 --port "$port" \
		>"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# ---------------------------------------------------------------------------
# the measurement

# Starts the clients against $port from source addresses 127.0.0.FIRST
# onwards and waits until all of them are ready and ss counts $conns
# established server-side sockets, within $deadline seconds.
open_idle() { # directory, first source address octet
	local dir=$1 octet=$2 i count fifo=$1/hold ready n mode=()
	local end=$((SECONDS + deadline))
	mkfifo "$fifo"
	exec {hold_fd}<>"$fifo" # read-write: does not wait for a reader
	((ws)) && mode=(--websocket "$WS_PATH")
	for ((i = 0; i < clients; i++)); do
		count=$((conns / clients + (i < conns % clients ? 1 : 0)))
		((count > 0)) || continue
		$PY "$BENCH_DIR/idle_clients.py" --port "$port" \
			--source "127.0.0.$((octet + i))" --count "$count" \
			--window "$window" --deadline "$deadline" "${mode[@]}" \
			<"$fifo" {hold_fd}>&- >"$dir/client$i.out" 2>"$dir/client$i.log" &
		client_pids+=($!)
	done
	while :; do
		ready=$(cat "$dir"/client*.out 2>/dev/null | awk '$1 == "ready" { n += $2 } END { print n + 0 }')
		if ((ready == conns)); then
			n=$(established "$port")
			((n >= conns)) && return 0
		fi
		for i in "${client_pids[@]}"; do
			kill -0 "$i" 2>/dev/null && continue
			note "a client exited before the end: $(cat "$dir"/client*.log)"
			return 1
		done
		if ! kill -0 "$server_pid" 2>/dev/null; then
			note "the server exited with the connections opening"
			show_logs "$dir"
			return 1
		fi
		if ((SECONDS >= end)); then
			note "after $deadline s: $ready of $conns answered, $(established "$port") established"
			return 1
		fi
		sleep 0.5
	done
}

# Measures server NAME; sets before[NAME], after[NAME] (kB), procs[NAME],
# took[NAME] (s) and, for squall, checks its exit status at SIGTERM.
declare -A before after procs took
measure() { # name, first source address octet
	local name=$1 dir=$TMP/$1 t0
	mkdir -p "$dir"
	free_port
	"start_$name" "$dir"
	wait_ready "$name" "$dir" || return 1
	sleep 1 # let the workers settle after start-up and the warm-up
	tree_rss "$server_pid"
	before[$name]=$rss_kb
	procs[$name]=$(tree_pids "$server_pid" | wc -l)
	note "$name on port $port: ${procs[$name]} processes, before:$rss_each"
	t0=$SECONDS
	open_idle "$dir" "$2" || return 1
	took[$name]=$((SECONDS - t0))
	sleep 1 # the last answers are read; nothing moves any more
	tree_rss "$server_pid"
	after[$name]=$rss_kb
	note "$name: $conns idle connections in ${took[$name]} s, after:$rss_each"
	note "$name: established connections by process:$(established_by_pid "$port")"
	stop_clients
	stop_server
	if ((stop_status != 0)); then
		note "$name exited with status $stop_status at SIGTERM, not 0"
		show_logs "$dir"
		[[ $name != squall ]] || return 1
	fi
}

status=0
measure squall 2 || status=1
stop_clients
stop_server
measure tornado $((2 + clients)) || status=1
stop_clients
stop_server

per_conn() { # name: bytes per idle connection
	awk -v b="${before[$1]:-}" -v a="${after[$1]:-}" -v n="$conns" 'BEGIN {
		if (a == "") print "-"; else printf "%.0f\n", (a - b) * 1024 / n }'
}

fmt() { # number with thousands separators, or "-"
	awk -v x="$1" 'BEGIN {
		if (x !~ /^-?[0-9]+$/) { print x; exit }
		s = ""; neg = x < 0; if (neg) x = -x
		while (x >= 1000) { s = sprintf(",%03d", x % 1000) s; x = int(x / 1000) }
		print (neg ? "-" : "") x s }'
}

sq=$(per_conn squall)
tn=$(per_conn tornado)
ratio=$(awk -v s="$sq" -v t="$tn" 'BEGIN {
	if (s ~ /^-?[0-9]+$/ && t ~ /^-?[0-9]+$/ && s > 0) printf "%.1f×\n", t / s
	else print "-" }')

if ((ws)); then
	what="idle WebSockets per server (\`$WS_PATH\`, uncompressed), each after one
echoed text message"
else
	what="idle keep-alive connections per server, each answered once
(\`GET / HTTP/1.1\`)"
fi
cat <<EOF
$(fmt "$conns") $what, from $clients client processes; RSS summed over the server's processes.

| server | processes | RSS before | RSS with $(fmt "$conns") idle | bytes per idle connection | ÷ squall |
|---|---:|---:|---:|---:|---:|
| squall (2 workers) | ${procs[squall]:--} | $(fmt "${before[squall]:--}") kB | $(fmt "${after[squall]:--}") kB | $(fmt "$sq") | 1.0× |
| Tornado (1 process) | ${procs[tornado]:--} | $(fmt "${before[tornado]:--}") kB | $(fmt "${after[tornado]:--}") kB | $(fmt "$tn") | $ratio |
EOF
# The target of the WebSocket issue; a missed one is reported, not an error.
if ((ws)); then
	awk -v s="$sq" 'BEGIN {
		if (s !~ /^-?[0-9]+$/) exit
		printf "\nsquall: %d bytes per idle WebSocket (target <= 1,024): target %s\n",
		       s, (s <= 1024 ? "met" : "missed") }'
fi
exit "$status"
