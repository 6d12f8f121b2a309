#!/usr/bin/env bash
#
# tests/bench/instructions.sh - user-space instructions per request of a
# squalld worker, counted by callgrind: repeatable whatever else the
# machine does, so it shows what a change costs where timings cannot.
#
#   tests/bench/instructions.sh [BUILD_DIR] [DEPTH] [login | jwt | jwt-rs256]
#
# It runs squalld (1 worker, hello.so) under valgrind twice, sends 2,000
# and then 12,000 requests over one keep-alive connection (DEPTH requests
# pipelined per batch, default 1), and prints the difference of the
# worker's totals divided by 10,000: start-up and teardown cancel out.
# With `login`, the route has `auth: login` and every request carries a
# signed user cookie (made by python3-tornado): the cost of checking a
# login on each request. With `jwt` (HS256) or `jwt-rs256`, the route has
# `auth: jwt` and every request carries a bearer token (made by
# python3-jwt; RS256 with a key from openssl genpkey): the cost of
# checking a token on each request.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$ROOT/build}" && pwd)
depth=${2:-1}
login=${3:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/squall-instr.XXXXXX")
trap 'rm -rf "$work"' EXIT

for tool in valgrind curl /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

cat >"$work/client.py" <<'PY'
import socket, sys
port, n, depth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cookie = sys.argv[4].encode() if len(sys.argv) > 4 else b""
s = socket.create_connection(("127.0.0.1", port), timeout=60)
req = (b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n"
       b"Accept: */*\r\n" + cookie + b"\r\n")
buf, done = b"", 0
while done < n:
    s.sendall(req * depth)
    for _ in range(depth):
        while b"Hello, world!" not in buf:
            data = s.recv(65536)
            if not data:
                sys.exit("squalld closed the connection")
            buf += data
        buf = buf[buf.index(b"Hello, world!") + 13:]
    done += depth
PY

# login: a secret, the route option, and a cookie signed with the secret
route="{ path: /, handler: hello:hello }"
security=""
cookie=""
if [ "$login" = login ]; then
	secret=squall-instructions-secret-0123456789abcdef
	(umask 077 && echo "$secret" >"$work/secret")
	route="{ path: /, handler: hello:hello, auth: login }"
	security="security: { cookie_secret_file: $work/secret }"
	cookie="Cookie: user=$(/usr/bin/python3 -c 'import sys, tornado.web
print(tornado.web.create_signed_value(sys.argv[1], "user", "ann").decode())' "$secret")
"
	cookie=${cookie//$'\n'/$'\r\n'}
elif [ "$login" = jwt ] || [ "$login" = jwt-rs256 ]; then
	if [ "$login" = jwt ]; then
		alg=HS256
		(umask 077 && echo squall-instructions-secret-0123456789abcdef >"$work/key")
		signer="$work/key"
		verifier="$work/key"
	else
		alg=RS256
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
			-out "$work/rsa.key" 2>/dev/null
		openssl pkey -in "$work/rsa.key" -pubout -out "$work/rsa.pub"
		signer="$work/rsa.key"
		verifier="$work/rsa.pub"
	fi
	route="{ path: /, handler: hello:hello, auth: jwt }"
	security="security: { jwt: { algorithm: $alg, key_file: $verifier } }"
	cookie="Authorization: Bearer $(/usr/bin/python3 -c 'import sys, time, jwt
key = open(sys.argv[2]).read().strip()
print(jwt.encode({"sub": "ann", "exp": int(time.time()) + 3600}, key,
                 algorithm=sys.argv[1]))' "$alg" "$signer")
"
	cookie=${cookie//$'\n'/$'\r\n'}
fi

# Total instructions of the worker after N requests.
run() {
	local n=$1 port=$((20000 + RANDOM % 20000)) pid out
	out="$work/run-$n"
	mkdir -p "$out"
	cat >"$out/s.yaml" <<Y
server: { listen: "127.0.0.1:$port", workers: 1 }
log: { level: warn, access: off }
modules: { hello: { path: $build/handlers/hello.so } }
routes:
  - $route
$security
Y
	valgrind -q --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$out/cg.%p" "$build/src/squalld" \
		-c "$out/s.yaml" 2>"$out/valgrind.log" &
	pid=$!
	for _ in $(seq 150); do
		curl -sf ${cookie:+-H "${cookie%$'\r\n'}"} "http://127.0.0.1:$port/" \
			>/dev/null && break
		sleep 0.2
	done
	/usr/bin/python3 "$work/client.py" "$port" "$n" "$depth" ${cookie:+"$cookie"}
	kill -TERM "$pid"
	wait "$pid" || { echo "squalld exited non-zero:" >&2; cat "$out/valgrind.log" >&2; exit 1; }
	# the worker is the process that ran the most instructions
	grep -h '^summary:' "$out"/cg.* | awk '{print $2}' | sort -n | tail -1
}

a=$(run 2000)
b=$(run 12000)
echo "instructions per request (depth $depth${login:+, $login}): $(((b - a) / 10000))"
