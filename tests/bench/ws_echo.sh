#!/usr/bin/env bash
#
# tests/bench/ws_echo.sh - WebSocket echo round trips per second, squalld
# next to Tornado, on one core each.
#
# Each server echoes WebSocket messages at /ws/echo from one process pinned
# to the server CPU: squalld with 1 worker and handlers/echo.so
# (uncompressed), Tornado with tests/bench/tornado_ws.py, and the floor:
# tests/bench/floor.c in its WebSocket mode ("floor PORT ws", built here
# with cc -O2), an epoll loop that answers the handshake with a fixed 101
# and echoes each read's frames in one write, about the least CPU a
# WebSocket echo can spend per message. The load is
# ws_echo_client.c, built here with cc -O2 and pinned to the client CPU:
# CONNS connections, each upgraded with the opening handshake and then
# sending one masked text message of BYTES bytes at a time and waiting for
# its echo before the next (ping-pong), for SECONDS; then again with DEPTH
# messages in flight per connection (pipelined: a new one for each echo).
# Every echo is checked. A warm-up run of each server precedes the rounds.
#
# As run.sh does, each run also measures the server's CPU time per round
# trip: user + system time of all its processes from /proc/PID/stat before
# and after the client ran, divided by the round trips the client counted
# (the handshakes and the last echoes read after the end are in the time,
# not in the count: a few hundred against millions). The client reports its
# own CPU time too: a client near 100% of its core was the limit, not the
# server. The result is a markdown report on stdout.
#
# Target (from the issue): squall's ping-pong round trips/s >= 10x
# Tornado's. A missed target is reported, not an error: the exit status is
# 0 once every selected server has been measured, 1 when one of them could
# not be started, echoed wrongly, or (squalld) did not exit 0 at SIGTERM,
# 2 for a usage error or a missing tool.
#
# Needs: python3-tornado, taskset (util-linux), a C compiler (cc, for the
# client and the floor), and a built squalld with handlers/echo.so.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
WS_PATH=/ws/echo

duration=10
warmup=2
conns=64
depth=16
bytes=32
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}
moddir=${SQUALL_MODULE_DIR:-$build/handlers}
servers=squall,tornado,floor
ALL_SERVERS=(squall tornado floor)
server_cpu=1
client_cpu=0
base_port=18480
repeat=1
keep=0

usage() {
	cat <<EOF
usage: $0 [options]

  -d SECONDS  length of each measured run (default $duration)
  -w SECONDS  warm-up of each server before the rounds (default $warmup)
  -c N        connections (default $conns)
  -D N        messages in flight per connection in the pipelined runs,
              2..64; 0 leaves them out (default $depth)
  -b BYTES    message size, 17..125 (default $bytes)
  -s PATH     squalld to run (default \$SQUALLD, else build/src/squalld
              or src/squalld of the repo)
  -m DIR      module directory holding echo.so (default \$SQUALL_MODULE_DIR
              or the handlers/ next to that squalld)
  -o LIST     servers to measure, comma-separated, from squall, tornado,
              floor (default $servers)
  -S CPU      CPU the servers are pinned to (default $server_cpu)
  -C CPU      CPU the client is pinned to (default $client_cpu)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -r N        go N rounds through the servers and keep each one's best
              run: the most round trips/s, the least CPU per round trip
              (default $repeat)
  -k          keep the temporary directory (configs, logs, client output)
  -h          this help
EOF
}

is_uint() {
	[[ $1 =~ ^[0-9]+$ ]]
}

while getopts 'd:w:c:D:b:s:m:o:S:C:p:r:kh' opt; do
	case $opt in
	d) duration=$OPTARG ;;
	w) warmup=$OPTARG ;;
	c) conns=$OPTARG ;;
	D) depth=$OPTARG ;;
	b) bytes=$OPTARG ;;
	s) squalld=$OPTARG ;;
	m) moddir=$OPTARG ;;
	o) servers=$OPTARG ;;
	S) server_cpu=$OPTARG ;;
	C) client_cpu=$OPTARG ;;
	p) base_port=$OPTARG ;;
	r) repeat=$OPTARG ;;
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

for v in "$duration" "$warmup" "$conns" "$depth" "$bytes" "$server_cpu" \
	"$client_cpu" "$base_port" "$repeat"; do
	is_uint "$v" || die "'$v' is not a non-negative integer"
done
((duration >= 1)) || die "-d must be at least 1 second"
((conns >= 1 && conns <= 10000)) || die "-c must be in 1..10000"
((depth == 0 || (depth >= 2 && depth <= 64))) || die "-D must be 0 or in 2..64"
((bytes >= 17 && bytes <= 125)) || die "-b must be in 17..125"
((repeat >= 1)) || die "-r must be at least 1"
((base_port >= 1024 && base_port < 65000)) || die "-p must be in 1024..64999"

want() {
	[[ ,$servers, == *,$1,* ]]
}

IFS=, read -ra server_list <<<"$servers"
for s in "${server_list[@]}"; do
	case $s in
	squall | tornado | floor) ;;
	*) die "unknown server '$s' in -o (squall, tornado, floor)" ;;
	esac
done

loads=(1)
((depth == 0)) || loads+=("$depth")

# ---------------------------------------------------------------------------
# tools

need taskset util-linux
need awk mawk
need "${CC:-cc}" gcc
if want tornado; then
	[[ -x $PY ]] || die "$PY not found: install the Debian package python3-tornado"
	"$PY" -c 'import tornado.websocket' 2>/dev/null ||
		die "Tornado not importable by $PY: install the Debian package python3-tornado"
fi
if want squall; then
	[[ -x $squalld ]] ||
		die "no squalld at '$squalld': build it (autoreconf -fi && ./configure && make) or pass -s"
	[[ -f $moddir/echo.so ]] ||
		die "no echo.so in '$moddir': build the handlers or pass -m"
	squalld=$(cd "$(dirname "$squalld")" && pwd)/$(basename "$squalld")
	moddir=$(cd "$moddir" && pwd)
fi
for cpu in "$server_cpu" "$client_cpu"; do
	taskset -c "$cpu" true 2>/dev/null ||
		die "cannot pin to CPU $cpu (this machine has $(nproc) usable CPUs; see -S/-C)"
done
[[ $server_cpu != "$client_cpu" ]] ||
	note "warning: servers and client share CPU $server_cpu; the numbers mean little"

# ---------------------------------------------------------------------------
# temporary directory and cleanup

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-wsbench.XXXXXX")
server_pid=       # the server being started, until it is in pid_of
declare -A pid_of # running servers by name
declare -A port_of

# Stops server NAME (stop_pid, 10 s) and forgets it.
stop_server() { # name
	local pid=${pid_of[$1]:-}
	unset "pid_of[$1]"
	stop_pid "$pid" 10
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local s
	for s in "${!pid_of[@]}"; do
		stop_server "$s"
	done
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true # started, not yet known
	fi
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
# the client

CLIENT=$TMP/ws_echo_client
"${CC:-cc}" -O2 -o "$CLIENT" "$BENCH_DIR/ws_echo_client.c" >"$TMP/cc.log" 2>&1 || {
	cat "$TMP/cc.log" >&2
	die "could not build ws_echo_client.c with ${CC:-cc} -O2"
}

# ---------------------------------------------------------------------------
# ports and readiness

next_port=$base_port
free_port() { # sets $port
	while port_busy "$next_port"; do
		next_port=$((next_port + 1))
	done
	port=$next_port
	next_port=$((next_port + 1))
}

show_logs() { # server name
	local f
	for f in "$TMP/$1"/*.log; do
		[[ -s $f ]] || continue
		printf -- '--- %s\n' "$f" >&2
		tail -n 20 "$f" >&2
	done
}

# Waits until the server echoes: one connection, upgraded, and one round
# trip, checked by the client (its complaint in $TMP/NAME/check.log); or
# the server died, or 15 s passed.
wait_ready() { # name
	local deadline=$((SECONDS + 15)) port=${port_of[$1]}
	while ((SECONDS < deadline)); do
		if ! kill -0 "${pid_of[$1]}" 2>/dev/null; then
			note "$1 exited during start-up"
			show_logs "$1"
			return 1
		fi
		if port_busy "$port"; then
			"$CLIENT" -p "$port" -P "$WS_PATH" -c 1 -d 0 -t 5 -s "$bytes" \
				>/dev/null 2>"$TMP/$1/check.log" && return 0
		fi
		sleep 0.1
	done
	note "$1 did not echo on 127.0.0.1:$port$WS_PATH within 15 s"
	show_logs "$1"
	return 1
}

# ---------------------------------------------------------------------------
# the servers: each start_* writes its config into $TMP/NAME/ and starts
# the server pinned in the background (server_pid) on $port, with its output
# and logs in $TMP/NAME/*.log

# shellcheck disable=SC2317 # called as start_$name
start_squall() {
	local dir=$TMP/squall
	cat >"$dir/squall.yaml" <<EOF
# written by tests/bench/ws_echo.sh
server:
  listen: ["127.0.0.1:$port"]
  workers: 1
  shutdown_timeout: 5s
log:
  level: warn
  error: $dir/error.log
  access: off
modules:
  echo: { path: echo.so }
routes:
  - { path: $WS_PATH, websocket: "echo:echo" }
EOF
	taskset -c "$server_cpu" "$squalld" -m "$moddir" -c "$dir/squall.yaml" \
		>"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# shellcheck disable=SC2317 # called as start_$name
start_tornado() {
	local dir=$TMP/tornado
	taskset -c "$server_cpu" "$PY" "$BENCH_DIR/tornado_ws.py" \
		--address 127.0.0.1 --port "$port" --path "$WS_PATH" \
		>"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# shellcheck disable=SC2317 # called as start_$name
start_floor() {
	local dir=$TMP/floor
	if ! "${CC:-cc}" -O2 -o "$dir/floor" "$BENCH_DIR/floor.c" >"$dir/cc.log" 2>&1; then
		note "could not build floor.c with ${CC:-cc} -O2"
		show_logs floor
		return 1
	fi
	taskset -c "$server_cpu" "$dir/floor" "$port" ws >"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# Starts server NAME and checks that it echoes; it then waits, idle, for
# its runs. 1 when it could not be started or echoed wrongly.
bring_up() { # name
	local name=$1 port
	note "starting $name"
	mkdir -p "$TMP/$name"
	free_port
	server_pid=
	"start_$name" || return 1
	pid_of[$name]=$server_pid
	server_pid= # known by name now; stop_server forgets it once stopped
	port_of[$name]=$port
	wait_ready "$name"
}

# ---------------------------------------------------------------------------
# load

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Results by "NAME DEPTH": rt: round trips/s, cpu: the CPU shares of that
# run, us: the server's CPU microseconds per round trip (the least of the
# rounds), usu: the user-space part of it.
declare -A rt cpu us usu problems

# Runs the client pinned against server NAME with DEPTH messages in flight
# for SECONDS and sets got_rt (empty when the client failed), got_us and
# got_us_user (as in run.sh: the server's CPU time per round trip, and its
# user part, in microseconds), and got_cpu: the share of the run's wall
# time used by the server, by the client, and by other processes on the
# two pinned CPUs.
load() { # name, depth, seconds, output file
	local pid=${pid_of[$1]} out=$4
	local s0 c0 p0 t0 s1 c1 p1 t1 n pu ps p w
	s0=$(cpu_ticks "$server_cpu")
	c0=$(cpu_ticks "$client_cpu")
	p0=$(server_ticks "$pid")
	t0=$EPOCHREALTIME
	if ! taskset -c "$client_cpu" "$CLIENT" -p "${port_of[$1]}" -P "$WS_PATH" \
		-c "$conns" -d "$3" -D "$2" -s "$bytes" >"$out" 2>"$out.err"; then
		note "the client failed against $1: $(cat "$out.err")"
		problems[$1]+="${problems[$1]:+; }client: $(head -n 1 "$out.err")"
	fi
	t1=$EPOCHREALTIME
	p1=$(server_ticks "$pid")
	s1=$(cpu_ticks "$server_cpu")
	c1=$(cpu_ticks "$client_cpu")
	read -r pu ps < <(awk -v a="$p0" -v b="$p1" 'BEGIN {
		split(a, x); split(b, y); print y[1] - x[1], y[2] - x[2] }')
	p=$((pu + ps))
	# "round_trips N seconds T per_second R user U sys S"
	read -r n got_rt w < <(awk -v hz="$HZ" '$1 == "round_trips" {
		print $2, $6, ($8 + $10) * hz }' "$out") || true
	got_rt=${got_rt:-}
	got_cpu=$(awk -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
		-v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" \
		-v p="$p" -v w="${w:-0}" 'BEGIN {
		wall = (t1 - t0) * hz
		if (wall <= 0) { print "?"; exit }
		split(s0, a); split(s1, b); sb = b[1] - a[1]
		split(c0, a); split(c1, b); cb = b[1] - a[1]
		# what the pinned CPUs did beyond the server and the client
		o = sb - p; if (cb - w > o) o = cb - w; if (o < 0) o = 0
		printf "%.0f%% / %.0f%% / %.0f%%\n",
		       100 * p / wall, 100 * w / wall, 100 * o / wall }')
	got_us=$(awk -v t="$p" -v n="${n:-0}" -v hz="$HZ" 'BEGIN {
		if (n > 0 && t > 0) printf "%.3f", t * 1e6 / hz / n }')
	got_us_user=$(awk -v t="$pu" -v n="${n:-0}" -v hz="$HZ" 'BEGIN {
		if (n > 0) printf "%.3f", t * 1e6 / hz / n }')
	note "$(printf '  depth %s: %s round trips/s, %s round trips, %s+%s ticks: %s us/round trip (%s user); CPU server / client / other %s' \
		"$2" "${got_rt:-?}" "${n:-?}" "$pu" "$ps" "${got_us:-?}" \
		"${got_us_user:-?}" "$got_cpu")"
}

# One run of server NAME at DEPTH; keeps the most round trips/s (and that
# run's CPU shares) and, separately, the least CPU per round trip of all
# rounds, as run.sh does.
run_once() { # name, depth, round
	local k="$1 $2" got_rt got_cpu got_us got_us_user
	load "$1" "$2" "$duration" "$TMP/$1/depth$2.$3.out"
	if [[ -n $got_rt ]] &&
		awk -v a="$got_rt" -v b="${rt[$k]:-0}" 'BEGIN { exit !(a > b) }'; then
		rt[$k]=$got_rt
		cpu[$k]=$got_cpu
	fi
	if [[ -n $got_us ]] && { [[ -z ${us[$k]:-} ]] ||
		awk -v a="$got_us" -v b="${us[$k]}" 'BEGIN { exit !(a < b) }'; }; then
		us[$k]=$got_us
		usu[$k]=$got_us_user
	fi
}

# All selected servers run at once, idle but for their own runs, and the
# rounds go through them in turn, so that load from elsewhere on the
# machine falls on every server alike.
status=0
active=()
for s in "${ALL_SERVERS[@]}"; do
	want "$s" || continue
	if bring_up "$s"; then
		active+=("$s")
	else
		stop_server "$s"
		problems[$s]="could not be started or did not echo"
		status=1
	fi
done
if ((warmup > 0)); then
	for s in "${active[@]}"; do
		load "$s" 1 "$warmup" "$TMP/$s/warmup.out"
	done
fi
for ((round = 1; round <= repeat; round++)); do
	for s in "${active[@]}"; do
		note "round $round of $repeat: $s"
		for d in "${loads[@]}"; do
			run_once "$s" "$d" "$round"
		done
	done
done
for s in "${active[@]}"; do
	stop_server "$s"
	if ((stop_status != 0)); then
		problems[$s]+="${problems[$s]:+; }exit status $stop_status after SIGTERM"
		[[ $s != squall ]] || status=1
	fi
	for d in "${loads[@]}"; do
		[[ -n ${rt[$s $d]:-} ]] || status=1
	done
done

# ---------------------------------------------------------------------------
# report

versions() {
	local v=() t
	if want squall; then
		t=$("$squalld" -V 2>/dev/null | head -n 1) || true
		v+=("${t:-squalld ?}")
	fi
	if want tornado; then
		t=$("$PY" -c 'import sys, tornado; print("Tornado", tornado.version, "on Python", sys.version.split()[0])' 2>/dev/null) || true
		v+=("${t:-Tornado ?}")
	fi
	local IFS=,
	printf '%s' "${v[*]}" | sed 's/,/, /g'
}

label() { # depth
	if (($1 == 1)); then
		printf '%s connections, ping-pong (1 message in flight each)' "$conns"
	else
		printf '%s connections × %s messages in flight' "$conns" "$1"
	fi
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[[ -n $cpu_model ]] || cpu_model=unknown

cat <<EOF

## squall WebSocket echo benchmark

- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- nproc: $(nproc)
- CPU: $cpu_model
- servers on CPU $server_cpu (squall: 1 worker), client (ws_echo_client.c, 1 thread) on CPU $client_cpu; ${duration}s per run after a ${warmup}s warm-up; best of $repeat (the most round trips/s, the least µs/round trip)
- messages: $bytes-byte text frames, masked, uncompressed, to $WS_PATH
- versions: $(versions)

µs/round trip: user + system CPU time of all the server's processes during
a run (/proc/PID/stat, $HZ ticks/s), divided by the round trips the client
completed; "of which user": the part spent outside the kernel. ÷ squall,
÷ floor: the server's figure divided by squall's or the floor's (floor.c's
WebSocket echo, the least CPU per message). CPU: share of the wall time of
the run with the most round trips/s used by the server / by the client /
by anything else on the two pinned CPUs; a server well below 100% was not
the limit.
EOF
for d in "${loads[@]}"; do
	cat <<EOF

### $(label "$d")

| server | round trips/s | µs/round trip | of which user | µs ÷ squall | µs ÷ floor | CPU server / client / other |
|---|---:|---:|---:|---:|---:|---:|
EOF
	for s in "${ALL_SERVERS[@]}"; do
		want "$s" || continue
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$s" \
			"$(cell "${rt[$s $d]:-}")" "$(cell "${us[$s $d]:-}" 2)" \
			"$(cell "${usu[$s $d]:-}" 2)" \
			"$(ratio "${us[$s $d]:-}" "${us[squall $d]:-}")" \
			"$(ratio "${us[$s $d]:-}" "${us[floor $d]:-}")" \
			"${cpu[$s $d]:-n/a}"
	done
done
printf '\n### ratios\n\n'
if want squall && want tornado; then
	ratio_line "squall/tornado round trips/s (ping-pong)" "${rt[squall 1]:-}" "${rt[tornado 1]:-}" '>=' 10
	ratio_line "tornado/squall CPU per round trip (ping-pong)" "${us[tornado 1]:-}" "${us[squall 1]:-}"
	if ((depth > 0)); then
		ratio_line "squall/tornado round trips/s ($depth in flight)" "${rt[squall $depth]:-}" "${rt[tornado $depth]:-}"
		ratio_line "tornado/squall CPU per round trip ($depth in flight)" "${us[tornado $depth]:-}" "${us[squall $depth]:-}"
	fi
fi
if want squall && want floor; then
	for d in "${loads[@]}"; do
		ratio_line "squall/floor CPU per round trip ($([[ $d == 1 ]] && echo ping-pong || echo "$d in flight"))" \
			"${us[squall $d]:-}" "${us[floor $d]:-}"
	done
fi
for s in "${ALL_SERVERS[@]}"; do
	[[ -z ${problems[$s]:-} ]] || printf -- '- problems with %s: %s\n' "$s" "${problems[$s]}"
done
# more than 10% of a pinned CPU went to other processes in a kept run
noisy=0
for c in "${cpu[@]}"; do
	[[ ${c##*/ } =~ ^([0-9]+)%$ ]] && ((BASH_REMATCH[1] > 10)) && noisy=1
done
if ((noisy)); then
	printf -- '- warning: other processes used the pinned CPUs during a run (column "other"); µs/round trip suffers less from that than round trips/s; rerun on a quiet machine, or with -r\n'
fi
exit "$status"
