#!/usr/bin/env bash
#
# tests/bench/run.sh - squalld against nginx, Tornado and a floor, on one
# core each.
#
# Every server answers GET / with the 13 bytes "Hello, world!" from one
# process (one worker) pinned to the server CPU; wrk, one thread pinned to
# the client CPU, loads it twice: CONNS keep-alive connections, then CONNS
# connections with 16 pipelined requests each (pipeline.lua). The floor is
# floor.c, built here with cc -O2: an epoll loop that only looks for the end
# of each request head and answers with one fixed response, about the least
# CPU a server can spend per request.
#
# wrk on one core saturates before squalld or nginx does, so requests/s
# alone cannot tell them apart; each run also measures the server's CPU
# time per request: user + system time of all its processes (master,
# workers, ...) from /proc/PID/stat before and after the run, divided by
# the requests wrk completed in it. The result is a markdown report on
# stdout: requests/s and CPU microseconds per request per server, their
# ratios to nginx and to the floor, the targets, and the machine.
#
# Targets (from the issue): squall's CPU per request <= 0.8x nginx's with
# CONNS keep-alive connections, requests/s >= 4x nginx pipelined, >= 20x
# Tornado. A missed target is reported, not an error: the exit status is 0
# once every selected server has been measured, 1 when one of them could
# not be built, started, or answered wrongly, 2 for a usage error or a
# missing tool.
#
# Needs: wrk, nginx (nginx-light is enough), python3-tornado, curl,
# taskset (util-linux), a C compiler (cc, for the floor), and a built
# squalld with handlers/hello.so.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
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
servers=squall,nginx,tornado,floor
ALL_SERVERS=(squall nginx tornado floor)
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
  -o LIST     servers to measure, comma-separated, from squall, nginx,
              tornado, floor (default $servers)
  -S CPU      CPU the servers are pinned to (default $server_cpu)
  -C CPU      CPU wrk is pinned to (default $client_cpu)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -r N        go N rounds through the servers and keep each one's best
              run: the most requests/s, the least CPU per request
              (default $repeat)
  -k          keep the temporary directory (configs, logs, wrk output)
  -h          this help
EOF
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
	squall | nginx | tornado | floor) ;;
	*) die "unknown server '$s' in -o (squall, nginx, tornado, floor)" ;;
	esac
done

# ---------------------------------------------------------------------------
# tools


need wrk wrk
need curl curl
need taskset util-linux
need awk mawk
want nginx && need nginx nginx-light
want floor && need "${CC:-cc}" gcc
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
server_pid=       # the server being started, until it is in pid_of
declare -A pid_of # running servers by name
declare -A url_of

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

# Waits until the server answers, or it died, or 15 s passed.
wait_ready() { # name, url
	local deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		if ! kill -0 "${pid_of[$1]}" 2>/dev/null; then
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

# The floor is built for this run from floor.c, with ${CC:-cc} -O2.
start_floor() {
	local dir=$TMP/floor
	mkdir -p "$dir"
	if ! "${CC:-cc}" -O2 -o "$dir/floor" "$BENCH_DIR/floor.c" >"$dir/cc.log" 2>&1; then
		note "could not build floor.c with ${CC:-cc} -O2"
		show_logs floor
		return 1
	fi
	free_port
	url=http://127.0.0.1:$port/
	taskset -c "$server_cpu" "$dir/floor" "$port" >"$dir/stderr.log" 2>&1 &
	server_pid=$!
}

# ---------------------------------------------------------------------------
# load

# Results by server name; *_pipe for the pipelined load. us: the server's
# CPU microseconds per request, usu: the user-space part of it.
declare -A rps rps_pipe lat cpu cpu_pipe us us_pipe usu usu_pipe problems

# CPU accounting, in clock ticks, to tell a server-bound run from a
# client-bound one and to notice other processes on the pinned CPUs.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# user + system ticks of this shell's waited-for children (wrk). `times`
# must run in this shell, not in a $(...) subshell, hence the file.
child_ticks() { # variable to set
	times >"$TMP/times"
	printf -v "$1" '%s' "$(awk -v hz="$HZ" 'END {
		# children: 0mU.UUUs 0mS.SSSs -> minutes, seconds, minutes, seconds
		split($0, f, /[ ms]+/)
		printf "%.0f", (f[1] * 60 + f[2] + f[3] * 60 + f[4]) * hz }' "$TMP/times")"
}

# Runs wrk pinned against server NAME and sets got_rps (empty when wrk
# failed); got_us: the server's CPU time (user + system) per request wrk
# completed, in microseconds (empty when none completed), and got_us_user,
# the user part of it; got_cpu: the share of the run's wall time used by
# the server, by wrk, and by other processes on the two pinned CPUs. A
# server well below 100% means wrk (or something else) was the limit.
load() { # name, output file, extra wrk args...
	local pid=${pid_of[$1]} u=${url_of[$1]} out=$2
	local s0 c0 p0 w0 t0 s1 c1 p1 w1 t1 reqs pu ps p
	shift 2
	s0=$(cpu_ticks "$server_cpu")
	c0=$(cpu_ticks "$client_cpu")
	p0=$(server_ticks "$pid")
	child_ticks w0
	t0=$EPOCHREALTIME
	taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${duration}s" --latency \
		"$@" "$u" >"$out" 2>&1 || true
	t1=$EPOCHREALTIME
	child_ticks w1
	p1=$(server_ticks "$pid")
	s1=$(cpu_ticks "$server_cpu")
	c1=$(cpu_ticks "$client_cpu")
	read -r pu ps < <(awk -v a="$p0" -v b="$p1" 'BEGIN {
		split(a, x); split(b, y); print y[1] - x[1], y[2] - x[2] }')
	p=$((pu + ps))
	got_cpu=$(awk -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
		-v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" \
		-v p="$p" -v w="$((w1 - w0))" 'BEGIN {
		wall = (t1 - t0) * hz
		if (wall <= 0) { print "?"; exit }
		split(s0, a); split(s1, b); sb = b[1] - a[1]
		split(c0, a); split(c1, b); cb = b[1] - a[1]
		# what the pinned CPUs did beyond the server and wrk
		o = sb - p; if (cb - w > o) o = cb - w; if (o < 0) o = 0
		printf "%.0f%% / %.0f%% / %.0f%%\n",
		       100 * p / wall, 100 * w / wall, 100 * o / wall }')
	got_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	# "  1234567 requests in 10.00s, 160.45MB read"
	reqs=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
	got_us=$(awk -v t="$p" -v n="${reqs:-0}" -v hz="$HZ" 'BEGIN {
		if (n > 0 && t > 0) printf "%.3f", t * 1e6 / hz / n }')
	got_us_user=$(awk -v t="$pu" -v n="${reqs:-0}" -v hz="$HZ" 'BEGIN {
		if (n > 0) printf "%.3f", t * 1e6 / hz / n }')
	note "$(printf '  %s req/s, %s requests, %s+%s ticks: %s us/request (%s user); CPU server / wrk / other %s' \
		"${got_rps:-?}" "${reqs:-?}" "$pu" "$ps" "${got_us:-?}" \
		"${got_us_user:-?}" "$got_cpu")"
}

latency() { # wrk output: "p50 / p99"
	awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
	     END { if (p50 != "") print p50 " / " p99 }' "$1"
}

# One run of one load (ka: keep-alive, pipe: pipelined) against server NAME.
# Of all rounds it keeps the run with the most requests/s (rps, cpu, and
# its wrk output as $TMP/NAME.LOAD.wrk; every run's is in .wrk.ROUND) and,
# separately, the least CPU per request (us, usu): other processes can only
# slow a run down or make the server's CPU time per request worse (cache
# misses, preemption), never better.
run_once() { # name, ka | pipe, round
	local name=$1 out=$TMP/$1.$2.wrk got_rps got_cpu got_us got_us_user
	local args=() old_rps old_us
	if [[ $2 == pipe ]]; then
		args=(-s "$BENCH_DIR/pipeline.lua")
		old_rps=${rps_pipe[$name]:-0}
		old_us=${us_pipe[$name]:-}
	else
		old_rps=${rps[$name]:-0}
		old_us=${us[$name]:-}
	fi
	load "$name" "$out.$3" "${args[@]}"
	if [[ -n $got_rps ]] &&
		awk -v a="$got_rps" -v b="$old_rps" 'BEGIN { exit !(a > b) }'; then
		if [[ $2 == pipe ]]; then
			rps_pipe[$name]=$got_rps
			cpu_pipe[$name]=$got_cpu
		else
			rps[$name]=$got_rps
			cpu[$name]=$got_cpu
		fi
		cp "$out.$3" "$out"
	fi
	if [[ -n $got_us ]] && { [[ -z $old_us ]] ||
		awk -v a="$got_us" -v b="$old_us" 'BEGIN { exit !(a < b) }'; }; then
		if [[ $2 == pipe ]]; then
			us_pipe[$name]=$got_us
			usu_pipe[$name]=$got_us_user
		else
			us[$name]=$got_us
			usu[$name]=$got_us_user
		fi
	fi
	[[ -f $out ]] || cp "$out.$3" "$out"
}

# wrk's complaints: socket errors and non-2xx answers.
wrk_errors() { # wrk output
	grep -E '^[[:space:]]*(Socket errors|Non-2xx)' "$1" |
		sed -e 's/^[[:space:]]*//' | paste -sd ';' - || true
}

start_server() { # name
	case $1 in
	squall) start_squall ;;
	nginx) start_nginx ;;
	tornado) start_tornado ;;
	floor) start_floor ;;
	esac
}

# Starts server NAME and checks its answer; it then waits, idle, for its
# runs. 1 when it could not be started or answered wrongly.
bring_up() { # name
	local name=$1 url=
	note "starting $name"
	server_pid=
	start_server "$name" || return 1
	pid_of[$name]=$server_pid
	server_pid= # known by name now; stop_server forgets it once stopped
	url_of[$name]=$url
	wait_ready "$name" "$url" && check_body "$name" "$url"
}

# Stops server NAME and collects what its kept runs say; 1 when a run
# produced no figure.
wind_down() { # name
	local name=$1 e
	lat[$name]=$(latency "$TMP/$name.ka.wrk")
	e=$(wrk_errors "$TMP/$name.ka.wrk")
	[[ -z $e ]] || problems[$name]="$conns conns: $e"
	e=$(wrk_errors "$TMP/$name.pipe.wrk")
	[[ -z $e ]] || problems[$name]+="${problems[$name]:+; }pipelined: $e"
	stop_server "$name"
	((stop_status == 0)) ||
		problems[$name]+="${problems[$name]:+; }exit status $stop_status after SIGTERM"
	note "$(printf '%s: %s req/s and %s us/request; pipelined %s req/s and %s us/request' \
		"$name" "${rps[$name]:-?}" "${us[$name]:-?}" \
		"${rps_pipe[$name]:-?}" "${us_pipe[$name]:-?}")"
	[[ -n ${rps[$name]:-} && -n ${rps_pipe[$name]:-} ]]
}

# All selected servers run at once, idle on the server CPU but for their own
# runs, and the rounds go through them in turn, so that a burst of load
# from elsewhere on the machine falls on every server alike rather than on
# whichever was being measured then.
status=0
active=()
for s in "${ALL_SERVERS[@]}"; do
	want "$s" || continue
	if bring_up "$s"; then
		active+=("$s")
	else
		stop_server "$s"
		rps[$s]=failed
		rps_pipe[$s]=failed
		status=1
	fi
done
if ((warmup > 0)); then
	for s in "${active[@]}"; do
		taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${warmup}s" \
			"${url_of[$s]}" >/dev/null 2>&1 || true
	done
fi
for ((round = 1; round <= repeat; round++)); do
	for s in "${active[@]}"; do
		note "round $round of $repeat: $s"
		run_once "$s" ka "$round"
		run_once "$s" pipe "$round"
	done
done
for s in "${active[@]}"; do
	wind_down "$s" || status=1
done

# ---------------------------------------------------------------------------
# report

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
- servers on CPU $server_cpu, wrk (1 thread) on CPU $client_cpu; ${duration}s per run after a ${warmup}s warm-up; best of $repeat (the most req/s, the least µs/request)
- body: "$BODY" (13 bytes); pipelined: $DEPTH requests per batch
- versions: $(versions)

µs/request: user + system CPU time of all the server's processes during a
run (/proc/PID/stat, $HZ ticks/s), divided by the requests wrk completed;
"of which user": the part spent outside the kernel (the kernel splits the
two by sampling, the sum is exact).
÷ nginx, ÷ floor: the server's figure divided by nginx's or the floor's.
req/s, latency and CPU are those of the run with the most req/s,
µs/request that of the run with the least. CPU: share of that run's wall
time used by the server (all its processes) / by wrk / by anything else on
the two pinned CPUs; a server well below 100% was not the limit.

### $conns keep-alive connections

| server | req/s | µs/request | of which user | µs ÷ nginx | µs ÷ floor | latency p50 / p99 | CPU server / wrk / other |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for s in "${ALL_SERVERS[@]}"; do
	want "$s" || continue
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" \
		"$(cell "${rps[$s]:-}")" "$(cell "${us[$s]:-}" 2)" \
		"$(cell "${usu[$s]:-}" 2)" \
		"$(ratio "${us[$s]:-}" "${us[nginx]:-}")" \
		"$(ratio "${us[$s]:-}" "${us[floor]:-}")" \
		"${lat[$s]:-n/a}" "${cpu[$s]:-n/a}"
done
cat <<EOF

### $conns connections × $DEPTH pipelined requests

| server | req/s | req/s ÷ nginx | µs/request | of which user | µs ÷ nginx | µs ÷ floor | CPU server / wrk / other |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for s in "${ALL_SERVERS[@]}"; do
	want "$s" || continue
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" \
		"$(cell "${rps_pipe[$s]:-}")" \
		"$(ratio "${rps_pipe[$s]:-}" "${rps_pipe[nginx]:-}")" \
		"$(cell "${us_pipe[$s]:-}" 2)" "$(cell "${usu_pipe[$s]:-}" 2)" \
		"$(ratio "${us_pipe[$s]:-}" "${us_pipe[nginx]:-}")" \
		"$(ratio "${us_pipe[$s]:-}" "${us_pipe[floor]:-}")" \
		"${cpu_pipe[$s]:-n/a}"
done
printf '\n### ratios\n\n'
if want squall; then
	if want nginx; then
		ratio_line "squall/nginx CPU per request ($conns conns)" "${us[squall]:-}" "${us[nginx]:-}" '<=' 0.8
		ratio_line "squall/nginx req/s (pipelined)" "${rps_pipe[squall]:-}" "${rps_pipe[nginx]:-}" '>=' 4
	fi
	if want tornado; then
		ratio_line "squall/tornado req/s ($conns conns)" "${rps[squall]:-}" "${rps[tornado]:-}" '>=' 20
	fi
	if want floor; then
		ratio_line "squall/floor CPU per request ($conns conns)" "${us[squall]:-}" "${us[floor]:-}"
		ratio_line "squall/floor CPU per request (pipelined)" "${us_pipe[squall]:-}" "${us_pipe[floor]:-}"
	fi
	if want nginx; then
		ratio_line "squall/nginx CPU per request (pipelined)" "${us_pipe[squall]:-}" "${us_pipe[nginx]:-}"
		ratio_line "squall/nginx req/s ($conns conns; wrk is the limit)" "${rps[squall]:-}" "${rps[nginx]:-}"
	fi
fi
for s in "${ALL_SERVERS[@]}"; do
	[[ -z ${problems[$s]:-} ]] || printf -- '- problems with %s: %s\n' "$s" "${problems[$s]}"
done
# more than 10% of a pinned CPU went to other processes in a kept run
noisy=0
for c in "${cpu[@]}" "${cpu_pipe[@]}"; do
	[[ ${c##*/ } =~ ^([0-9]+)%$ ]] && ((BASH_REMATCH[1] > 10)) && noisy=1
done
if ((noisy)); then
	printf -- '- warning: other processes used the pinned CPUs during a run (column "other"); µs/request suffers less from that than req/s; rerun on a quiet machine, or with -r\n'
fi
exit "$status"
