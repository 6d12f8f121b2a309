#!/bin/sh
# run.sh - builds each libFuzzer target of tests/fuzz/ with clang and runs
# it for a bounded time on a copy of its seed corpus, with its dictionary.
#
#   tests/fuzz/run.sh [BUILD_DIR]
#
# BUILD_DIR is a configured build tree, for config.h (default: build).
# Environment:
#   FUZZ_SECONDS  time per target (default 60)
#   FUZZ_TARGETS  names of the targets to run (default: all of TARGETS)
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang
#                 (default 10)
#   FUZZ_MAX_LEN  largest input tried, in bytes (default 4096)
#
# A crash, a leak, a hang or a sanitizer report fails the run; the input
# that caused it is kept and named. Without clang there is nothing to build:
# the script says so and exits 0.
set -eu

cd "$(dirname "$0")/../.."
SRC=$(pwd)
BUILD_DIR=${1:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-4096}

# One line per target: NAME, then the files of src/ it links. The target is
# tests/fuzz/fuzz_NAME.c, its seed corpus tests/fuzz/corpus/NAME/ and its
# dictionary tests/fuzz/NAME.dict (both optional).
TARGETS='
http src/http.c src/request.c src/pool.c src/buf.c src/router.c src/util.c src/log.c
conn src/accept.c src/buf.c src/channel.c src/config.c src/conftree.c src/conn.c src/cookie.c src/endpoint.c src/form.c src/http.c src/http1.c src/hub.c src/hubproto.c src/jose.c src/jwtauth.c src/listen.c src/log.c src/master.c src/module.c src/notify.c src/outq.c src/pool.c src/proxy.c src/pubsub.c src/redisproto.c src/request.c src/response.c src/route.c src/router.c src/scoreboard.c src/security.c src/signed.c src/threadpool.c src/timer.c src/tls.c src/utf8.c src/util.c src/websocket.c src/worker.c src/wsdeflate.c src/wsframe.c src/wshandshake.c src/yamltree.c
wsframe src/wsframe.c src/utf8.c
wsdeflate src/wsdeflate.c src/http.c src/request.c src/pool.c src/buf.c src/router.c src/util.c src/log.c
hubproto src/hubproto.c src/buf.c
security src/cookie.c src/signed.c src/form.c src/util.c
jwt src/jose.c src/util.c
'

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang not found, fuzz targets not built (apt-get install clang)"
    exit 0
fi
if [ ! -f "$BUILD_DIR/config.h" ]; then
    echo "fuzz: no $BUILD_DIR/config.h: configure a build first (./dev.sh test)" >&2
    exit 1
fi

PKGS="libevent_core libevent_extra libevent_pthreads libevent_openssl libssl
libcrypto yaml-0.1 libpcre2-8 zlib hiredis jansson libjwt"
# shellcheck disable=SC2086
DEP_CFLAGS=$(pkg-config --cflags $PKGS)
# shellcheck disable=SC2086
DEP_LIBS="$(pkg-config --libs $PKGS) -lhttp_parser"
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
-fno-omit-frame-pointer -I$SRC/include -I$SRC/src -I$BUILD_DIR"

# the sanitizers' settings of the suite (slow unwinding on every malloc)
# would cost the fuzzer most of its speed
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/squall-fuzz.XXXXXX")
failed=""

build() {
    name=$1
    shift
    # shellcheck disable=SC2086
    clang $CFLAGS $DEP_CFLAGS "tests/fuzz/fuzz_$name.c" "$@" $DEP_LIBS \
        -o "$WORK/fuzz_$name"
}

# Prints what libFuzzer's final stats say: runs, speed, coverage.
summary() {
    name=$1
    log=$2
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed 's/^#[0-9]*[[:space:]]*[A-Z]*[[:space:]]*//')
    echo "fuzz_$name: ${runs:-?} runs in ${FUZZ_SECONDS}s, ${speed:-?} exec/s; $last"
}

run() {
    name=$1
    corpus="$WORK/corpus-$name"
    log="$WORK/fuzz_$name.log"
    set -- -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
        -max_len="$FUZZ_MAX_LEN" -print_final_stats=1 \
        -artifact_prefix="$WORK/crash-$name-"
    [ -f "tests/fuzz/$name.dict" ] && set -- "$@" -dict="tests/fuzz/$name.dict"
    mkdir -p "$corpus"
    # a copy: the seeds stay as committed, what the run finds is dropped
    [ -d "tests/fuzz/corpus/$name" ] && cp -R "tests/fuzz/corpus/$name/." "$corpus/"
    if "$WORK/fuzz_$name" "$@" "$corpus" >"$log" 2>&1; then
        summary "$name" "$log"
        return 0
    fi
    echo "fuzz_$name: FAILED; the end of its log ($log):" >&2
    tail -60 "$log" >&2
    ls "$WORK"/crash-"$name"-* 2>/dev/null | sed 's/^/fuzz: reproducer: /' >&2
    return 1
}

echo "$TARGETS" | while read -r name sources; do
    [ -n "$name" ] || continue
    case " ${FUZZ_TARGETS:-$name} " in *" $name "*) ;; *) continue ;; esac
    echo "$name $sources"
done >"$WORK/targets"

while read -r name sources; do
    # shellcheck disable=SC2086
    if ! build "$name" $sources; then
        failed="$failed $name"
    elif ! run "$name"; then
        failed="$failed $name"
    fi
done <"$WORK/targets"

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (kept: $WORK)" >&2
    exit 1
fi
rm -rf "$WORK"
