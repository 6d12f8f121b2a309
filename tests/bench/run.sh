#!/usr/bin/env bash
#
# tests/bench/run.sh - squalld against nginx and Tornado on one core each.
#
# Every server answers GET / with the 13 bytes "Hello, world!" from one
# process (one worker) pinned to the server CPU; wrk, one thread pinned to
# the client CPU, loads it twice: CONNS keep-alive connections, then CONNS
# connections with 16 pipelined requests each (pipeline.lua). The result is
# a markdown report on stdout: requests/s per server, the ratios squall
# is measured by, and the machine.
#
# Targets (from the issue): squall >= 1.1x nginx with CONNS connections,
# >= 4x nginx pipelined, >= 20x Tornado. A missed target is reported, not an
# error: the exit status is 0 once every selected server has been measured,
# 1 when one of them could not be started or answered wrongly, 2 for a
# usage error or a missing tool.
#
# Needs: wrk, nginx (nginx-light is enough), python3-tornado, curl,
# taskset (util-linux), and a built squalld with handlers/hello.so.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BODY='Hello, world!'
DEPTH=16

duration=10
warmup=2
conns=64
# dev.sh builds in build/; an in-tree build has them at the top
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}
moddir=${SQUALL_MODULE_DIR:-$build/handlers}
servers=squall,nginx,tornado
server_cpu=1
client_cpu=0
base_port=18080
repeat=1
keep=0

usage() {
	cat <<EOF
usage: $0 [options]

  -d SECONDS  length of each measured run (default $duration)
  -w SECONDS  warm-up before each server's runs (default $warmup)
  -c N        connections (default $conns)
  -s PATH     squalld to run (default \$SQUALLD, else build/src/squalld
              or src/squalld of the repo)
  -m DIR      module directory holding hello.so (default \$SQUALL_MODULE_DIR
              or the handlers/ next to that squalld)
  -o LIST     servers to measure, comma-separated (default $servers)
  -S CPU      CPU the servers are pinned to (default $server_cpu)
  -C CPU      CPU wrk is pinned to (default $client_cpu)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -r N        measure each run N times and keep the best (default $repeat)
  -k          keep the temporary directory (configs, logs, wrk output)
  -h          this help
EOF
}

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 2
}

note() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

is_uint() {
	[[ $1 =~ ^[0-9]+$ ]]
}

while getopts 'd:w:c:s:m:o:S:C:p:r:kh' opt; do
	case $opt in
	d) duration=$OPTARG ;;
	w) warmup=$OPTARG ;;
	c) conns=$OPTARG ;;
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

for v in "$duration" "$warmup" "$conns" "$server_cpu" "$client_cpu" "$base_port" "$repeat"; do
	is_uint "$v" || die "'$v' is not a non-negative integer"
done
((duration >= 1)) || die "-d must be at least 1 second"
((conns >= 1)) || die "-c must be at least 1"
((repeat >= 1)) || die "-r must be at least 1"
((base_port >= 1024 && base_port < 65000)) || die "-p must be in 1024..64999"

want() {
	[[ ,$servers, == *,$1,* ]]
}

IFS=, read -ra server_list <<<"$servers"
for s in "${server_list[@]}"; do
	case $s in
	squall | nginx | tornado) ;;
	*) die "unknown server '$s' in -o (squall, nginx, tornado)" ;;
	esac
done

# ---------------------------------------------------------------------------
# tools

need() { # command, Debian package
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 not found: install the Debian package $2 (apt-get install $2)"
}

need wrk wrk
need curl curl
need taskset util-linux
need awk mawk
want nginx && need nginx nginx-light
if want tornado; then
	[[ -x /usr/bin/python3 ]] ||
		die "/usr/bin/python3 not found: install the Debian package python3-tornado"
	/usr/bin/python3 -c 'import tornado' 2>/dev/null ||
		die "Tornado not importable by /usr/bin/python3: install the Debian package python3-tornado"
fi
if want squall; then
	[[ -x $squalld ]] ||
		die "no squalld at '$squalld': build it (autoreconf -fi && ./configure && make) or pass -s"
	[[ -f $moddir/hello.so ]] ||
		die "no hello.so in '$moddir': build the handlers or pass -m"
	squalld=$(cd "$(dirname "$squalld")" && pwd)/$(basename "$squalld")
	moddir=$(cd "$moddir" && pwd)
fi
for cpu in "$server_cpu" "$client_cpu"; do
	taskset -c "$cpu" true 2>/dev/null ||
		die "cannot pin to CPU $cpu (this machine has $(nproc) usable CPUs; see -S/-C)"
done
[[ $server_cpu != "$client_cpu" ]] ||
	note "warning: servers and wrk share CPU $server_cpu; the numbers mean little"

# ---------------------------------------------------------------------------
# temporary directory and cleanup

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-bench.XXXXXX")
server_pid=

# Stops the running server with SIGTERM, as a service manager would, and
# sets stop_status to its exit status; after 10 s it and its children are
# killed (stop_status 137). The servers stop cleanly on SIGTERM, so a
# non-zero status is worth reporting.
stop_server() {
	local pid=$server_pid kids i
	server_pid=
	stop_status=0
	[[ -n $pid ]] || return 0
	kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ') || true
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || stop_status=$?
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
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
# ports and readiness

port_busy() {
	(: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

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

# Waits until the server answers, or it died, or 15 s passed.
wait_ready() { # name, url
	local deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			note "$1 exited during start-up"
			show_logs "$1"
			return 1
		fi
		curl -s -o /dev/null -m 1 "$2" && return 0
		sleep 0.1
	done
	note "$1 did not answer on $2 within 15 s"
	show_logs "$1"
	return 1
}

# The body must be exactly BODY, with status 200.
check_body() { # name, url
	local got code
	got=$TMP/$1.body
	code=$(curl -s -m 5 -o "$got" -w '%{http_code}' "$2") || code=000
	if [[ $code != 200 ]] || ! printf '%s' "$BODY" | cmp -s - "$got"; then
		note "$1 answered status $code with body '$(head -c 200 "$got")', not 200 '$BODY'"
		return 1
	fi
}

# ---------------------------------------------------------------------------
# the servers: each start_* writes its config into $TMP/NAME/, starts the
# server pinned in the background (server_pid), with its output and logs in
# $TMP/NAME/*.log, and sets url

start_squall() {
	local dir=$TMP/squall
	mkdir -p "$dir"
	free_port
	url=http://127.0.0.1:$port/
	cat >"$dir/squall.yaml" <<EOF
# written by tests/bench/run.sh
server:
  listen: ["127.0.0.1:$port"]
  workers: 1
  shutdown_timeout: 5s
log:
  level: warn
  error: $dir/error.log
  access: off
modules:
  hello: { path: hello.so }
routes:
  - { path: /, handler: hello:hello }
EOF
	taskset -c "$server_cpu" "$squalld" -m "$moddir" -c "$dir/squall.yaml" \
		>"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

nginx_has() { # module name, e.g. uwsgi
	! nginx -V 2>&1 | grep -q -- "--without-http_$1_module"
}

start_nginx() {
	local dir=$TMP/nginx m temp_paths=
	mkdir -p "$dir/temp"
	free_port
	url=http://127.0.0.1:$port/
	# Keep nginx away from /var/lib/nginx and /var/log/nginx.
	for m in client_body proxy fastcgi uwsgi scgi; do
		[[ $m == client_body || $m == proxy ]] || nginx_has "$m" || continue
		temp_paths+="    ${m}_temp_path $dir/temp/$m;"$'\n'
	done
	cat >"$dir/nginx.conf" <<EOF
# written by tests/bench/run.sh
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
$temp_paths
    server {
        listen 127.0.0.1:$port;
        location = / {
            default_type text/plain;
            return 200 "$BODY";
        }
    }
}
EOF
	# -e (nginx >= 1.19.5) keeps start-up messages off the built-in path.
	local eflag=()
	nginx -h 2>&1 | grep -q -- '-e filename' && eflag=(-e "$dir/error.log")
	taskset -c "$server_cpu" nginx "${eflag[@]}" -p "$dir" -c "$dir/nginx.conf" \
		>"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

start_tornado() {
	local dir=$TMP/tornado
	mkdir -p "$dir"
	free_port
	url=http://127.0.0.1:$port/
	taskset -c "$server_cpu" /usr/bin/python3 "$BENCH_DIR/tornado_hello.py" \
		--address 127.0.0.1 --port "$port" >"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# ---------------------------------------------------------------------------
# load

# Results by server name; *_pipe for the pipelined run.
declare -A rps rps_pipe lat cpu cpu_pipe problems

# CPU accounting, in clock ticks, to tell a server-bound run from a
# client-bound one and to notice other processes on the pinned CPUs.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# "busy total" ticks of one CPU from /proc/stat; busy leaves out idle,
# iowait, irq and softirq (loopback TCP work is counted as softirq).
cpu_ticks() { # cpu
	awk -v c="cpu$1" '$1 == c {
		t = 0; for (i = 2; i <= 9; i++) t += $i
		print t - $5 - $6 - $7 - $8, t }' /proc/stat
}

# user + system ticks of the server: its first process and their children.
server_ticks() {
	local p pids
	pids="$server_pid $(pgrep -P "$server_pid" 2>/dev/null | tr '\n' ' ')"
	for p in $pids; do
		# fields after "(comm) ": state ppid ... utime is the 12th, stime 13th
		sed -e 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# user + system ticks of this shell's waited-for children (wrk). `times`
# must run in this shell, not in a $(...) subshell, hence the file.
child_ticks() { # variable to set
	times >"$TMP/times"
	printf -v "$1" '%s' "$(awk -v hz="$HZ" 'END {
		# children: 0mU.UUUs 0mS.SSSs -> minutes, seconds, minutes, seconds
		split($0, f, /[ ms]+/)
		printf "%.0f", (f[1] * 60 + f[2] + f[3] * 60 + f[4]) * hz }' "$TMP/times")"
}

# Runs wrk pinned and sets got_rps (empty when wrk failed) and got_cpu:
# the share of the run's wall time used by the server and by wrk, and by
# other processes on the two pinned CPUs. A server well below 100% means
# wrk (or something else) was the limit.
load() { # output file, url, extra wrk args...
	local out=$1 u=$2 s0 c0 p0 w0 t0 s1 c1 p1 w1 t1
	shift 2
	s0=$(cpu_ticks "$server_cpu")
	c0=$(cpu_ticks "$client_cpu")
	p0=$(server_ticks)
	child_ticks w0
	t0=$EPOCHREALTIME
	taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${duration}s" --latency \
		"$@" "$u" >"$out" 2>&1 || true
	t1=$EPOCHREALTIME
	child_ticks w1
	p1=$(server_ticks)
	s1=$(cpu_ticks "$server_cpu")
	c1=$(cpu_ticks "$client_cpu")
	got_cpu=$(awk -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
		-v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" \
		-v p="$((p1 - p0))" -v w="$((w1 - w0))" 'BEGIN {
		wall = (t1 - t0) * hz
		if (wall <= 0) { print "?"; exit }
		split(s0, a); split(s1, b); sb = b[1] - a[1]
		split(c0, a); split(c1, b); cb = b[1] - a[1]
		# what the pinned CPUs did beyond the server and wrk
		o = sb - p; if (cb - w > o) o = cb - w; if (o < 0) o = 0
		printf "%.0f%% / %.0f%% / %.0f%%\n",
		       100 * p / wall, 100 * w / wall, 100 * o / wall }')
	got_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
}

latency() { # wrk output: "p50 / p99"
	awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
	     END { if (p50 != "") print p50 " / " p99 }' "$1"
}

# Runs load() $repeat times and keeps the run with the most requests/s in
# best_rps, best_cpu and the output file (other runs: FILE.N).
best_of() { # output file, url, extra wrk args...
	local out=$1 i
	shift
	best_rps=
	best_cpu=
	for ((i = 1; i <= repeat; i++)); do
		load "$out.$i" "$@"
		if [[ -n $got_rps ]] && awk -v a="$got_rps" -v b="${best_rps:-0}" 'BEGIN { exit !(a > b) }'; then
			best_rps=$got_rps
			best_cpu=$got_cpu
			cp "$out.$i" "$out"
		fi
	done
	[[ -n $best_rps ]] || cp "$out.$repeat" "$out"
}

# wrk's complaints: socket errors and non-2xx answers.
wrk_errors() { # wrk output
	grep -E '^[[:space:]]*(Socket errors|Non-2xx)' "$1" |
		sed -e 's/^[[:space:]]*//' | paste -sd ';' - || true
}

measure() { # name
	local name=$1 url out e got_rps got_cpu best_rps best_cpu
	printf '== %s\n' "$name" >&2
	case $name in
	squall) start_squall ;;
	nginx) start_nginx ;;
	tornado) start_tornado ;;
	esac
	if ! wait_ready "$name" "$url" || ! check_body "$name" "$url"; then
		stop_server
		rps[$name]=failed
		rps_pipe[$name]=failed
		return 1
	fi
	if ((warmup > 0)); then
		taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${warmup}s" "$url" \
			>/dev/null 2>&1 || true
	fi

	out=$TMP/$name.wrk
	best_of "$out" "$url"
	rps[$name]=$best_rps
	cpu[$name]=$best_cpu
	lat[$name]=$(latency "$out")
	e=$(wrk_errors "$out")
	[[ -z $e ]] || problems[$name]="$conns conns: $e"

	out=$TMP/$name.pipelined.wrk
	best_of "$out" "$url" -s "$BENCH_DIR/pipeline.lua"
	rps_pipe[$name]=$best_rps
	cpu_pipe[$name]=$best_cpu
	e=$(wrk_errors "$out")
	[[ -z $e ]] || problems[$name]+="${problems[$name]:+; }pipelined: $e"

	stop_server
	((stop_status == 0)) ||
		problems[$name]+="${problems[$name]:+; }exit status $stop_status after SIGTERM"
	printf '   %s req/s, %s req/s pipelined\n' \
		"${rps[$name]:-?}" "${rps_pipe[$name]:-?}" >&2
	[[ -n ${rps[$name]} && -n ${rps_pipe[$name]} ]]
}

status=0
for s in squall nginx tornado; do
	want "$s" || continue
	measure "$s" || status=1
done

# ---------------------------------------------------------------------------
# report

num() { # a measured rate, or empty
	[[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] && printf '%s' "$1"
}

cell() {
	local v=${1:-}
	if num "$v" >/dev/null; then
		printf '%.0f' "$v"
	elif [[ -n $v ]]; then
		printf '%s' "$v"
	else
		printf 'n/a'
	fi
}

ratio_line() { # label, numerator, denominator, target
	local a b
	a=$(num "${2:-}") || a=
	b=$(num "${3:-}") || b=
	if [[ -z $a || -z $b ]]; then
		printf -- '- %s: n/a (target >= %sx)\n' "$1" "$4"
		return
	fi
	awk -v l="$1" -v a="$a" -v b="$b" -v t="$4" 'BEGIN {
		if (b <= 0) { printf "- %s: n/a (target >= %sx)\n", l, t; exit }
		r = a / b
		printf "- %s: %.2fx (target >= %sx): target %s\n", l, r, t,
		       (r >= t ? "met" : "missed")
	}'
}

versions() {
	local v=() t
	if want squall; then
		t=$("$squalld" -V 2>/dev/null | head -n 1) || true
		v+=("${t:-squalld ?}")
	fi
	if want nginx; then
		t=$(nginx -v 2>&1 | sed -n 's/^nginx version: //p') || true
		v+=("${t:-nginx ?}")
	fi
	if want tornado; then
		t=$(/usr/bin/python3 -c 'import tornado; print(tornado.version)' 2>/dev/null) || true
		v+=("Tornado ${t:-?}")
	fi
	t=$(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }') || true
	v+=("${t:-wrk ?}")
	local IFS=,
	printf '%s' "${v[*]}" | sed 's/,/, /g'
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[[ -n $cpu_model ]] || cpu_model=unknown

cat <<EOF

## squall benchmark

- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- nproc: $(nproc)
- CPU: $cpu_model
- servers on CPU $server_cpu, wrk (1 thread) on CPU $client_cpu; ${duration}s per run after a ${warmup}s warm-up; best of $repeat
- body: "$BODY" (13 bytes); pipelined: $DEPTH requests per batch
- versions: $(versions)

| server | rps $conns conns | rps $conns×$DEPTH pipelined |
|---|---:|---:|
EOF
for s in squall nginx tornado; do
	want "$s" || continue
	printf '| %s | %s | %s |\n' "$s" \
		"$(cell "${rps[$s]:-}")" "$(cell "${rps_pipe[$s]:-}")"
done
cat <<EOF

CPU: share of each run's wall time used by the server (all its processes)
/ by wrk / by anything else on the two pinned CPUs.

| server | latency p50 / p99 ($conns conns) | CPU server / wrk / other ($conns conns) | CPU server / wrk / other (pipelined) |
|---|---:|---:|---:|
EOF
for s in squall nginx tornado; do
	want "$s" || continue
	printf '| %s | %s | %s | %s |\n' "$s" \
		"${lat[$s]:-n/a}" "${cpu[$s]:-n/a}" "${cpu_pipe[$s]:-n/a}"
done
echo
if want squall; then
	if want nginx; then
		ratio_line "squall/nginx ($conns conns)" "${rps[squall]:-}" "${rps[nginx]:-}" 1.1
		ratio_line "squall/nginx (pipelined)" "${rps_pipe[squall]:-}" "${rps_pipe[nginx]:-}" 4
	fi
	if want tornado; then
		ratio_line "squall/tornado ($conns conns)" "${rps[squall]:-}" "${rps[tornado]:-}" 20
	fi
fi
for s in squall nginx tornado; do
	[[ -z ${problems[$s]:-} ]] || printf -- '- problems with %s: %s\n' "$s" "${problems[$s]}"
done
# more than 10% of a pinned CPU went to other processes in a kept run
noisy=0
for c in "${cpu[@]}" "${cpu_pipe[@]}"; do
	[[ ${c##*/ } =~ ^([0-9]+)%$ ]] && ((BASH_REMATCH[1] > 10)) && noisy=1
done
if ((noisy)); then
	printf -- '- warning: other processes used the pinned CPUs during a run (column "other"); rerun on a quiet machine, or with -r\n'
fi
exit "$status"
