# shellcheck shell=bash
# tests/bench/common.sh - helpers the benchmark scripts share; sourced,
# not run. Messages name the script that sources it.

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 2
}

note() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

need() { # command, Debian package
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 not found: install the Debian package $2 (apt-get install $2)"
}

# Whether something accepts connections on 127.0.0.1:PORT.
port_busy() {
	(: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# "pid user system" of process PID and each of its descendants, one line
# each; user and system time in clock ticks (fields 14 and 15 of
# /proc/PID/stat, threads included). One pass over /proc, so a process is
# listed once even if it is being reparented; one that exits during the
# pass may be missing.
proc_tree() { # pid
	# a process may exit between the glob and cat: not an error
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
	{
		pid = $1
		# "pid (comm) state ppid ...": comm may hold spaces and ")"; after
		# the last ") ", ppid is $2, utime (field 14) $12 and stime (15) $13
		sub(/^.*\) /, "")
		parent[pid] = $2
		user[pid] = $12
		sys[pid] = $13
	}
	END {
		if (!(root in parent)) exit
		tree[root] = 1
		do {
			grew = 0
			for (p in parent)
				if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 }
		} while (grew)
		for (p in tree) print p, user[p], sys[p]
	}'
}

# The process PID and all its descendants, one pid per line.
tree_pids() { # pid
	proc_tree "$1" | awk '{ print $1 }'
}

# Stops PID (a child of this shell) with SIGTERM, as a service manager
# would, and sets stop_status to its exit status; after SECONDS (default
# 15) it and its descendants are killed (stop_status 137). The servers
# stop cleanly on SIGTERM, so a non-zero status is worth reporting.
# shellcheck disable=SC2034 # stop_status is for the caller
stop_pid() { # pid, [seconds]
	local pid=$1 kids i
	stop_status=0
	[[ -n $pid ]] || return 0
	kids=$(tree_pids "$pid" | tr '\n' ' ')
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || stop_status=$?
}

# "user system" ticks of PID's whole process tree (squalld's master,
# workers and hub); "0 0" once it is gone. A process that exits during a
# run takes its time with it.
server_ticks() { # pid
	proc_tree "$1" | awk '{ u += $2; s += $3 } END { print u + 0, s + 0 }'
}

# "busy total" ticks of one CPU from /proc/stat; busy leaves out idle,
# iowait, irq and softirq (loopback TCP work is counted as softirq).
cpu_ticks() { # cpu
	awk -v c="cpu$1" '$1 == c {
		t = 0; for (i = 2; i <= 9; i++) t += $i
		print t - $5 - $6 - $7 - $8, t }' /proc/stat
}

# Report helpers: measured figures into markdown cells and ratio lines.

num() { # a measured rate, or empty
	[[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] && printf '%s' "$1"
}

cell() { # a value, rounded to DECIMALS places when it is a number
	local v=${1:-} d=${2:-0}
	if num "$v" >/dev/null; then
		printf "%.${d}f" "$v"
	elif [[ -n $v ]]; then
		printf '%s' "$v"
	else
		printf 'n/a'
	fi
}

ratio() { # numerator, denominator: "1.23×", or n/a
	local a b
	a=$(num "${1:-}") || a=
	b=$(num "${2:-}") || b=
	if [[ -z $a || -z $b ]]; then
		printf 'n/a'
		return
	fi
	awk -v a="$a" -v b="$b" 'BEGIN {
		if (b > 0) printf "%.2f×", a / b; else printf "n/a" }'
}

# One line per ratio: "- LABEL: 1.23x (target >= 4x): target met". OP is
# ">=" or "<="; without a target the line only says the ratio.
ratio_line() { # label, numerator, denominator, [op, target]
	local a b op=${4:-} t=${5:-} what=
	[[ -z $op ]] || what=" (target $op ${t}x)"
	a=$(num "${2:-}") || a=
	b=$(num "${3:-}") || b=
	if [[ -z $a || -z $b ]]; then
		printf -- '- %s: n/a%s\n' "$1" "$what"
		return
	fi
	awk -v l="$1" -v a="$a" -v b="$b" -v op="$op" -v t="$t" -v w="$what" 'BEGIN {
		if (b <= 0) { printf "- %s: n/a%s\n", l, w; exit }
		r = a / b
		printf "- %s: %.2fx%s", l, r, w
		if (op == ">=") printf ": target %s", (r >= t ? "met" : "missed")
		if (op == "<=") printf ": target %s", (r <= t ? "met" : "missed")
		printf "\n"
	}'
}
