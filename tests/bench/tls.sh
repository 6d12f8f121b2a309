#!/usr/bin/env bash
#
# tests/bench/tls.sh - the cost of TLS in squalld next to nginx, with the
# same certificate, on one core each.
#
# Both serve a fixed "Hello, world!" over TLS from 127.0.0.1 with one
# worker (squalld: handlers/hello.so on a `tls:` listener; nginx: `return
# 200` on an `ssl` listener, config written here), pinned to the server
# CPU with taskset; wrk (Debian's, which speaks TLS; one thread) is pinned
# to the client CPU. The certificate is a throwaway self-signed ECDSA P-256
# one made here with `openssl req`; both servers allow TLS 1.2 and 1.3 (wrk
# negotiates 1.3) with their session tickets on. Two loads, each once
# after a warm-up:
#
#   handshake   -H 'Connection: close': every request on a new connection
#               with a full handshake (wrk never resumes a session), so
#               requests/s are handshakes/s;
#   keep-alive  CONNS keep-alive connections: requests over TLS without
#               handshakes.
#
# As run.sh does, each run also reads the user + system time of all the
# server's processes (/proc/PID/stat, master and workers) before and after
# wrk and divides by the requests wrk completed: the server's CPU per
# handshake or request, in microseconds, which does not depend on wrk
# being the limit. The result is a markdown report on stdout; the exit
# status is 0 once both servers were measured, 1 when one could not be
# started or answered wrongly, 2 for a usage error or a missing tool.
#
# Needs: wrk, nginx (nginx-light), openssl, curl, taskset, and a built
# squalld with handlers/hello.so.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/common.sh
. "$BENCH_DIR/common.sh"
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BODY="Hello, world!"

duration=10
warmup=2
conns=64
hs_conns=16
build=$ROOT/build
[ -x "$build/src/squalld" ] || build=$ROOT
squalld=${SQUALLD:-$build/src/squalld}
moddir=${SQUALL_MODULE_DIR:-$build/handlers}
server_cpu=1
client_cpu=0
base_port=18580
keep=0

usage() {
	cat <<EOF
usage: $0 [options]

  -d SECONDS  length of each measured run (default $duration)
  -w SECONDS  warm-up of each server before its runs (default $warmup)
  -c N        keep-alive connections (default $conns)
  -n N        concurrent connections of the handshake load (default $hs_conns)
  -s PATH     squalld to run (default \$SQUALLD, else build/src/squalld)
  -m DIR      module directory holding hello.so (default \$SQUALL_MODULE_DIR
              or build/handlers)
  -S CPU      CPU the servers are pinned to (default $server_cpu)
  -C CPU      CPU wrk is pinned to (default $client_cpu)
  -p PORT     first port to try on 127.0.0.1 (default $base_port)
  -k          keep the temporary directory (configs, logs, wrk output)
  -h          this help
EOF
}

while getopts 'd:w:c:n:s:m:S:C:p:kh' opt; do
	case $opt in
	d) duration=$OPTARG ;;
	w) warmup=$OPTARG ;;
	c) conns=$OPTARG ;;
	n) hs_conns=$OPTARG ;;
	s) squalld=$OPTARG ;;
	m) moddir=$OPTARG ;;
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
for v in "$duration" "$warmup" "$conns" "$hs_conns" "$server_cpu" \
	"$client_cpu" "$base_port"; do
	[[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a non-negative integer"
done
((duration >= 1)) || die "-d must be at least 1 second"
((conns >= 1 && conns <= 10000 && hs_conns >= 1 && hs_conns <= 1000)) ||
	die "-c must be in 1..10000, -n in 1..1000"

need wrk wrk
need nginx nginx-light
need openssl openssl
need curl curl
need taskset util-linux
[ -x "$squalld" ] || die "no squalld at $squalld: build first (./dev.sh test)"
[ -f "$moddir/hello.so" ] || die "no hello.so in $moddir"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/squall-tls-bench.XXXXXX")
declare -A pid_of url_of
cleanup() {
	local p
	for p in "${pid_of[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pid_of[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if ((keep)); then note "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>"$TMP/openssl.log" ||
	die "openssl req failed: $(cat "$TMP/openssl.log")"

port=$base_port
free_port() {
	while port_busy "$port"; do
		port=$((port + 1))
	done
	port_now=$port
	port=$((port + 1))
}

start_squall() {
	local dir=$TMP/squall
	mkdir -p "$dir"
	free_port
	url_of[squall]=https://127.0.0.1:$port_now/
	cat >"$dir/squall.yaml" <<EOF
# written by tests/bench/tls.sh
server:
  listen:
    - address: "127.0.0.1:$port_now"
      tls: { cert: $TMP/cert.pem, key: $TMP/key.pem }
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
	pid_of[squall]=$!
}

start_nginx() {
	local dir=$TMP/nginx eflag=()
	mkdir -p "$dir/temp"
	free_port
	url_of[nginx]=https://127.0.0.1:$port_now/
	cat >"$dir/nginx.conf" <<EOF
# written by tests/bench/tls.sh
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
    client_body_temp_path $dir/temp/client_body;
    proxy_temp_path $dir/temp/proxy;
    server {
        listen 127.0.0.1:$port_now ssl;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        location = / {
            default_type text/plain;
            return 200 "$BODY";
        }
    }
}
EOF
	nginx -h 2>&1 | grep -q -- '-e filename' && eflag=(-e "$dir/error.log")
	taskset -c "$server_cpu" nginx "${eflag[@]}" -p "$dir" -c "$dir/nginx.conf" \
		>"$dir/stderr.log" 2>&1 &
	pid_of[nginx]=$!
}

# Waits until NAME answers BODY over TLS (15 s at most).
wait_ready() { # name
	local deadline=$((SECONDS + 15)) got
	while ((SECONDS < deadline)); do
		kill -0 "${pid_of[$1]}" 2>/dev/null || break
		got=$(curl -s -m 1 --cacert "$TMP/cert.pem" "${url_of[$1]}" \
			2>/dev/null) || got=
		[[ $got == "$BODY" ]] && return 0
		sleep 0.1
	done
	note "$1 did not answer '$BODY' over TLS; its logs:"
	tail -n 20 "$TMP/$1"/*.log >&2 || true
	return 1
}

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
declare -A rps us usu cpu

# Runs wrk against NAME; sets rps[NAME/LOAD], us[...] (server CPU µs per
# request), usu[...] (its user part) and cpu[...] (server CPU share).
load() { # name, load (handshake or keepalive), seconds, record (0/1)
	local name=$1 kind=$2 secs=$3 out=$TMP/wrk.$1.$2 p0 p1 t0 t1 args=()
	if [[ $kind == handshake ]]; then
		args=(-c"$hs_conns" -H 'Connection: close')
	else
		args=(-c"$conns")
	fi
	p0=$(server_ticks "${pid_of[$name]}")
	t0=$EPOCHREALTIME
	taskset -c "$client_cpu" wrk -t1 "${args[@]}" -d"${secs}s" \
		"${url_of[$name]}" >"$out" 2>&1 || true
	t1=$EPOCHREALTIME
	p1=$(server_ticks "${pid_of[$name]}")
	((${4:-1})) || return 0
	local reqs r
	reqs=$(awk '/requests in/ { print $1 }' "$out")
	r=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	if [[ -z $reqs || $reqs == 0 ]] || grep -q 'Non-2xx' "$out"; then
		note "wrk against $name ($kind) failed:"
		cat "$out" >&2
		return 1
	fi
	rps[$name/$kind]=$r
	read -r us["$name/$kind"] usu["$name/$kind"] cpu["$name/$kind"] < <(
		awk -v a="$p0" -v b="$p1" -v n="$reqs" -v hz="$HZ" \
			-v t0="$t0" -v t1="$t1" 'BEGIN {
			split(a, x); split(b, y)
			u = y[1] - x[1]; s = y[2] - x[2]
			printf "%.2f %.2f %.0f%%\n", (u + s) * 1e6 / hz / n,
				u * 1e6 / hz / n, (u + s) / hz / (t1 - t0) * 100 }')
}

status=0
for s in squall nginx; do
	"start_$s"
	wait_ready "$s" || {
		status=1
		continue
	}
	for kind in handshake keepalive; do
		((warmup == 0)) || load "$s" "$kind" "$warmup" 0
		load "$s" "$kind" "$duration" || status=1
	done
done

# ---------------------------------------------------------------------------
# report

sq_v=$("$squalld" -V | head -1)
ng_v=$(nginx -v 2>&1 | sed -n 's/^nginx version: //p')
ssl_v=$(openssl version | awk '{ print $1, $2 }')
cat <<EOF
## TLS: squalld next to nginx

$(date -u +%Y-%m-%d), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),
$sq_v, $ng_v, $ssl_v, wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }');
servers on CPU $server_cpu, wrk (1 thread) on CPU $client_cpu, ${duration} s per run.

| load | server | req/s | µs server CPU / request | of which user | µs ÷ nginx | server CPU |
|---|---|---:|---:|---:|---:|---:|
EOF
for kind in handshake keepalive; do
	label="new connection per request ($hs_conns at once): full handshake"
	[[ $kind == keepalive ]] && label="$conns keep-alive connections"
	for s in squall nginx; do
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$s" \
			"$(cell "${rps[$s/$kind]:-}")" "$(cell "${us[$s/$kind]:-}" 2)" \
			"$(cell "${usu[$s/$kind]:-}" 2)" \
			"$(ratio "${us[$s/$kind]:-}" "${us[nginx/$kind]:-}")" \
			"${cpu[$s/$kind]:-n/a}"
	done
done
echo
ratio_line "squall / nginx, handshakes/s" "${rps[squall/handshake]:-}" "${rps[nginx/handshake]:-}"
ratio_line "squall / nginx, CPU per handshake" "${us[squall/handshake]:-}" "${us[nginx/handshake]:-}"
ratio_line "squall / nginx, keep-alive requests/s" "${rps[squall/keepalive]:-}" "${rps[nginx/keepalive]:-}"
ratio_line "squall / nginx, CPU per keep-alive request" "${us[squall/keepalive]:-}" "${us[nginx/keepalive]:-}"
exit $status
