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
