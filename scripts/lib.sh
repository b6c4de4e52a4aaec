# Shared by scripts/run and scripts/test: install what is missing, build, and start a
# throwaway redis-server. Sourced, not executed.

PARLEY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages Parley needs to build, test and run (the Dockerfile installs the same).
PARLEY_BUILD_PACKAGES="build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-uv
 libuv1-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev libssl-dev zlib1g-dev"
PARLEY_RUN_PACKAGES="redis-server curl"
PARLEY_TEST_PACKAGES="libcmocka-dev clang-format docker-compose chromium nodejs clang
 libclang-rt-14-dev zip unzip"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: install the Debian packages that are missing (as root), or print the
# exact command to run and stop.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
            die "apt-get install ${missing[*]} failed"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        say "installing ${missing[*]} (sudo)"
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
    else
        die "missing Debian packages; install them with:
    sudo apt-get install -y ${missing[*]}"
    fi
}

# build DIR [CMAKE_ARGS...]: configure (once) and build every target.
build() {
    local dir=$1
    shift
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$PARLEY_ROOT" -B "$dir" "$@" >/dev/null || die "cmake configure failed"
    fi
    cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null ||
        { cmake --build "$dir" -j1 2>&1 | grep -E 'error|Error' | head -30; die "build failed"; }
}

# build_fuzz: configure build-fuzz (clang, the libFuzzer targets of tests/fuzz under ASan+UBSan)
# once, then build every target.
build_fuzz() {
    if [ ! -f "$PARLEY_ROOT/build-fuzz/CMakeCache.txt" ]; then
        CC=clang cmake -S "$PARLEY_ROOT" -B "$PARLEY_ROOT/build-fuzz" -DPARLEY_FUZZ=ON \
            -DPARLEY_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
            die "cmake configure (fuzz) failed"
    fi
    cmake --build "$PARLEY_ROOT/build-fuzz" -j "$(nproc)" --target fuzz_all -- \
        --no-print-directory >/dev/null ||
        { cmake --build "$PARLEY_ROOT/build-fuzz" -j1 --target fuzz_all 2>&1 |
            grep -E 'error|Error' | head -30; die "fuzz build failed"; }
}

free_port() {
    local p
    for _ in $(seq 50); do
        # Below Linux's ephemeral range (32768+), so that no outgoing connection holds it.
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    die "no free port found"
}

# start_redis DIR [REDIS-SERVER ARGS...]: a throwaway redis-server with AOF on and its data in
# DIR (further arguments go to redis-server, e.g. --appendfsync always); sets REDIS_PID,
# REDIS_PORT and PARLEY_REDIS_URL.
start_redis() {
    local dir=$1 port
    shift
    mkdir -p "$dir"
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --save '' \
        --daemonize no --logfile "$dir/redis.log" "$@" &
    REDIS_PID=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG ||
        die "redis-server did not start (see $dir/redis.log)"
    REDIS_PORT=$port
    export PARLEY_REDIS_URL="redis://127.0.0.1:$port/0"
}
