#!/bin/sh
# dev.sh - squall's two commands, for a fresh Debian 12 machine.
#
#   ./dev.sh run    install what is missing, build, and serve conf/squall.yaml
#                   in the foreground on http://127.0.0.1:8080
#   ./dev.sh test   install what is missing, build, and run the whole suite
#                   (it also needs Chromium, Node.js and playwright-core,
#                   from npm into tests/browser/node_modules, for the page
#                   tried in a browser)
#
# Packages are installed with apt-get when run as root; otherwise the
# missing ones are listed. Set SQUALL_CONFIGURE_FLAGS to pass options to
# ./configure (the sanitizer run uses --enable-sanitizers), and BUILD_DIR
# to build out of tree (default: build/).
set -eu

cd "$(dirname "$0")"
SRC=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}

# build tools, libraries, and the real clients the integration tests use
PACKAGES="build-essential autoconf automake pkg-config libevent-dev
libhttp-parser-dev libssl-dev libyaml-dev libpcre2-dev zlib1g-dev check
libhiredis-dev redis-server libjansson-dev libjwt-dev
curl python3 python3-requests python3-websockets python3-tornado python3-jwt
python3-cryptography nginx-light iproute2 openssl"

# what only the test suite needs: the browser the /ws/ page is tried in,
# and Node.js to drive it (playwright-core, from npm: see browser_deps)
TEST_PACKAGES="chromium"

install_missing() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "dev.sh: missing Debian packages:$missing" >&2
        echo "dev.sh: run as root, or: sudo apt-get install$missing" >&2
        exit 1
    fi
    echo "dev.sh: installing$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# playwright-core, pinned by tests/browser/package-lock.json
browser_deps() {
    [ -d tests/browser/node_modules/playwright-core ] && return 0
    echo "dev.sh: npm ci in tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
}

# conf/squall.yaml's cookie secret: 32 random bytes (base64), readable by
# its owner only, made once and kept (a new one logs everybody out)
secret() {
    [ -f conf/cookie_secret ] && return 0
    echo "dev.sh: creating conf/cookie_secret (mode 0600)"
    (umask 077 && head -c 32 /dev/urandom | base64 >conf/cookie_secret)
}

build() {
    [ -x configure ] || autoreconf -fi
    mkdir -p "$BUILD_DIR"
    cd "$BUILD_DIR"
    if [ ! -f Makefile ]; then
        # shellcheck disable=SC2086
        "$SRC/configure" -q ${SQUALL_CONFIGURE_FLAGS:-}
    fi
    make -j"$(nproc)"
}

case "${1:-}" in
run)
    install_missing
    secret
    build
    exec ./src/squalld -m ./handlers -c "$SRC/conf/squall.yaml"
    ;;
test)
    PACKAGES="$PACKAGES $TEST_PACKAGES"
    # Node.js may come from elsewhere than Debian: only its absence counts
    command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
    install_missing
    browser_deps
    build
    make -j"$(nproc)" check || {
        # show what failed, then fail
        for f in $(find tests -name '*.log' ! -name 'test-suite.log'); do
            grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null && { echo "=== $f"; tail -50 "$f"; }
        done
        exit 1
    }
    ;;
*)
    echo "usage: ./dev.sh run | test" >&2
    exit 1
    ;;
esac
