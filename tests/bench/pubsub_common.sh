# shellcheck shell=bash disable=SC2034,SC2154
# tests/bench/pubsub_common.sh - what the pub/sub benchmarks
# (longpoll_fanout.sh, ws_broadcast.sh, pubsub_memory.sh) share; sourced
# after common.sh (whose process-tree helpers it uses), not run.

PY=/usr/bin/python3

# Sets rss_kb to the summed VmRSS of PID's tree in kB, nproc_tree to the
# number of its processes.
tree_rss() { # pid
	local p kb
	rss_kb=0
	nproc_tree=0
	for p in $(tree_pids "$1"); do
		kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || kb=
		[[ -n $kb ]] || continue
		rss_kb=$((rss_kb + kb))
		nproc_tree=$((nproc_tree + 1))
	done
}

established() { # port: server-side established TCP sockets
	ss -Htn state established "( sport = :$1 )" | wc -l
}

# Builds tests/bench/NAME.c into DIR/NAME with cc -O2; 1 when it fails.
build_client() { # name, dir
	if ! "${CC:-cc}" -O2 -Wall -Wextra -o "$2/$1" "$BENCH_DIR/$1.c" >"$2/$1.cc.log" 2>&1; then
		cat "$2/$1.cc.log" >&2
		note "could not build $1.c with ${CC:-cc} -O2"
		return 1
	fi
}

# Writes DIR/squall.yaml: WORKERS workers on 127.0.0.1:PORT, /sub/{room}
# and /pub/{room} on channel b.{room}, long polls waiting POLL_TIMEOUT.
squall_pubsub_config() { # dir, port, workers, poll_timeout
	cat >"$1/squall.yaml" <<YAML
# written by tests/bench/${0##*/}
server:
  listen: ["127.0.0.1:$2"]
  workers: $3
  shutdown_timeout: 5s
  limits:
    max_connections: 20000
    idle_timeout: 30m
log:
  level: warn
  error: $1/error.log
  access: off
routes:
  - { path: "/sub/{room}", subscribe: { channel: "b.{room}", poll_timeout: $4 } }
  - { path: "/pub/{room}", publish: { channel: "b.{room}" } }
YAML
}

# Starts a server in the background, pinned to CPU (empty: not pinned),
# and sets server_pid. KIND: squall (config in DIR), chat
# (tornado_chat.py), wsbcast (tornado_ws_bcast.py).
start_pubsub_server() { # kind, dir, port, cpu
	local pin=()
	[[ -z $4 ]] || pin=(taskset -c "$4")
	case $1 in
	squall) "${pin[@]}" "$squalld" -c "$2/squall.yaml" >"$2/stderr.log" 2>&1 & ;;
	chat) "${pin[@]}" "$PY" "$BENCH_DIR/tornado_chat.py" --address 127.0.0.1 \
		--port "$3" --poll-timeout 1800 >"$2/stderr.log" 2>&1 & ;;
	wsbcast) "${pin[@]}" "$PY" "$BENCH_DIR/tornado_ws_bcast.py" --address 127.0.0.1 \
		--port "$3" >"$2/stderr.log" 2>&1 & ;;
	esac
	server_pid=$!
}

# Waits until PID answers a publish on 127.0.0.1:PORT with a
# "subscribers" field, or it died, or 15 s passed.
wait_publish() { # pid, port, dir
	local deadline=$((SECONDS + 15)) body
	while ((SECONDS < deadline)); do
		if ! kill -0 "$1" 2>/dev/null; then
			note "the server exited during start-up: $(tail -n 5 "$3"/*.log 2>/dev/null)"
			return 1
		fi
		body=$(curl -s -m 1 -X POST --data-binary warmup "http://127.0.0.1:$2/pub/room") || body=
		[[ $body == *'"subscribers":'* ]] && return 0
		sleep 0.1
	done
	note "no answer to a publish on 127.0.0.1:$2 within 15 s: $(tail -n 5 "$3"/*.log 2>/dev/null)"
	return 1
}

next_port=${base_port:-18500}
free_port() { # sets $port
	while port_busy "$next_port" || (($(established "$next_port") > 0)); do
		next_port=$((next_port + 1))
	done
	port=$next_port
	next_port=$((next_port + 1))
}

tornado_version() {
	"$PY" -c 'import sys, tornado; print("Tornado", tornado.version, "on Python", sys.version.split()[0])' 2>/dev/null || echo "Tornado ?"
}
