#!/usr/bin/env bash
# bootstrap.sh — the two commands of README.md.
#   scripts/bootstrap.sh demo   install what is needed, build, index seeds/, answer a question
#   scripts/bootstrap.sh test   install what is needed, build (plain and ASan+UBSan), run every test
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

# Debian 12 packages the build, the tests and the integrations need. Installed only when missing.
packages=(build-essential cmake pkg-config libsqlite3-dev libuv1-dev libyaml-dev libcmark-dev
          libjansson-dev sqlite3 python3 clang libclang-rt-14-dev valgrind)
test_packages=(neovim emacs-nox ripgrep)

install_packages() {
  local want=("$@") missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bootstrap: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake args...]; QUIET_BUILD=1 keeps the compiler's output in DIR/build.log
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  if [ "${QUIET_BUILD:-0}" = 1 ]; then
    echo "bootstrap: building in $dir (log: $dir/build.log)" >&2
    cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
  else
    cmake --build "$dir" -j "$jobs"
  fi
}

case "${1:-}" in
  demo)
    install_packages "${packages[@]}"
    QUIET_BUILD=1 build build
    sock="$root/build/demo.sock"
    build/index/cardex-index build seeds -o build/cardex.db
    echo "bootstrap: starting cardexd on $sock" >&2
    build/daemon/cardexd --index build/cardex.db --socket "$sock" --log-level warn &
    daemon=$!
    trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
    for _ in $(seq 100); do build/client/cardex --socket "$sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
    question=${2:-"How do we build an information security management system?"}
    echo "\$ cardex answer \"$question\""
    build/client/cardex --socket "$sock" answer "$question"
    echo
    echo "\$ cardex \"isms documents\""
    build/client/cardex --socket "$sock" "isms documents" || true
    ;;
  test)
    install_packages "${packages[@]}" "${test_packages[@]}"
    build build
    (cd build && ctest --output-on-failure -j "$jobs")
    build build-asan -DCARDEX_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" -LE no-asan)
    # The index builder's threads (parsers, writer, FTS thread, postings
    # encoders) under ThreadSanitizer: its own tests, full and incremental.
    cmake -S "$root" -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARDEX_TSAN=ON >/dev/null
    cmake --build build-tsan -j "$jobs" --target test_index test_fts_replay >build-tsan/build.log 2>&1 ||
      { cat build-tsan/build.log >&2; exit 1; }
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
       ctest --output-on-failure -R '^unit/test_(index|fts_replay)$')
    ;;
  *)
    echo "usage: scripts/bootstrap.sh demo|test" >&2
    exit 2
    ;;
esac
