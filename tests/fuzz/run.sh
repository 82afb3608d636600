#!/usr/bin/env bash
# run.sh — a fuzzing campaign: builds every libFuzzer target with clang (out of tree, the
# library and the daemon instrumented) and runs each for SECONDS, then prints executions,
# crashes and coverage (cov/ft from libFuzzer's final stats) per target.
#   tests/fuzz/run.sh SECONDS [card|query|rpc ...]     (default: every target)
# Environment: FUZZ_ARTIFACTS (default: cwd) keeps crash reproducers; FUZZ_CORPUS_OUT, if
# set, keeps the grown corpora (one directory per target). Exits 1 if any target crashed,
# 0 with "skipped" when clang cannot link libFuzzer.
set -euo pipefail
here=$(cd "${0%/*}" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:?usage: run.sh SECONDS [card|query|rpc ...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(card query rpc)
artifacts=${FUZZ_ARTIFACTS:-$PWD}

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz run: skipped (clang is not on PATH)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
  >"$work/probe.c"
if ! clang -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
  echo "fuzz run: skipped (clang cannot link libFuzzer; install libclang-rt-dev)"
  exit 0
fi

# shellcheck disable=SC2054  # the commas are -fsanitize's, not array separators
# Objects are instrumented for coverage (fuzzer-no-link) and sanitizers; only the
# targets link libFuzzer's main. Two compilers at a time: the machine is shared.
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -DCARDEX_VERSION=\"fuzz\"
        "-DCX_SOURCE_DIR=\"$root\"" -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
        -I"$root/index" -I"$root/daemon")
read -r -a pkg <<<"$(pkg-config --cflags sqlite3 libuv yaml-0.1 libcmark jansson)"
read -r -a libs <<<"$(pkg-config --libs sqlite3 libuv yaml-0.1 libcmark jansson)"
mkdir -p "$work/obj/index" "$work/obj/daemon"
need_daemon=0
for t in "${targets[@]}"; do [ "$t" = rpc ] && need_daemon=1; done
srcs=("$root"/index/*.c)
if [ "$need_daemon" = 1 ]; then
  for f in "$root"/daemon/*.c; do [ "${f##*/}" = main.c ] || srcs+=("$f"); done
fi
echo "fuzz run: compiling ${#srcs[@]} files with clang" >&2
for f in "${srcs[@]}"; do
  d=${f%/*}
  clang "${cflags[@]}" "${pkg[@]}" -c "$f" -o "$work/obj/${d##*/}/$(basename "$f" .c).o" &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n; done
objs=("$work"/obj/index/*.o)
[ "$need_daemon" = 1 ] && objs+=("$work"/obj/daemon/*.o)

# name: source, extra libFuzzer arguments, extra corpus directories (read only)
declare -A dict=([card]="$here/card.dict" [rpc]="$here/rpc.dict" [query]="")
declare -A maxlen=([card]=8192 [query]=512 [rpc]=16384)
declare -A extra=([card]="$root/tests/data/good $root/tests/data/bad" [query]="" [rpc]="")

mkdir -p "$artifacts"
results=()
failed=0
for t in "${targets[@]}"; do
  case $t in card|query|rpc) ;; *) echo "fuzz run: unknown target $t" >&2; exit 2 ;; esac
  clang "${cflags[@]/fuzzer-no-link/fuzzer}" "${pkg[@]}" "$here/fuzz_$t.c" "${objs[@]}" \
    "${libs[@]}" -lm -lpthread -o "$work/fuzz_$t"
  corpus="$work/corpus-$t"
  mkdir -p "$corpus"
  cp -r "$here/corpus/$t/." "$corpus/"
  args=(-max_total_time="$seconds" -max_len="${maxlen[$t]}" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/fuzz_$t-")
  [ -n "${dict[$t]}" ] && args+=(-dict="${dict[$t]}")
  echo "fuzz run: fuzzing $t for ${seconds}s" >&2
  set +e
  # shellcheck disable=SC2086
  (cd "$work" && "$work/fuzz_$t" "${args[@]}" "$corpus" ${extra[$t]}) >"$work/log-$t" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log-$t" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log-$t" | tail -n1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log-$t" | tail -n1)
  last=$(grep -E '^#[0-9]+' "$work/log-$t" | tail -n1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1
    failed=1
    echo "fuzz run: $t FAILED (exit $status); reproducers: $artifacts/fuzz_$t-*" >&2
    grep -E -A30 'ERROR|==[0-9]+==|fuzz_' "$work/log-$t" | head -n 60 >&2 || true
  fi
  results+=("$(printf '%-6s %6ss %12s %8s %7s %6s %6s %6s %6s' "$t" "$seconds" "${execs:-?}" \
    "${rate:-?}" "$crashes" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}")")
  if [ -n "${FUZZ_CORPUS_OUT:-}" ]; then
    mkdir -p "$FUZZ_CORPUS_OUT/$t"
    cp -r "$corpus/." "$FUZZ_CORPUS_OUT/$t/"
  fi
done

printf '%-6s %7s %12s %8s %7s %6s %6s %6s %6s\n' target time execs exec/s crashes cov ft corpus rss_mb
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz run: FAILED"
  exit 1
fi
echo "fuzz run: ok (no crash)"
