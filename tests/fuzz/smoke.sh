#!/usr/bin/env bash
# smoke.sh — builds the libFuzzer card target with clang, out of tree, and fuzzes it briefly.
#   FUZZ_SECONDS (default 20) bounds the run; crashes are kept in FUZZ_ARTIFACTS (default: cwd).
# Exits 0 with "skipped" when clang or libFuzzer is not available.
set -euo pipefail
here=$(cd "${0%/*}" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
artifacts=${FUZZ_ARTIFACTS:-$PWD}

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (clang is not on PATH)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
  >"$work/probe.c"
if ! clang -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (clang cannot link libFuzzer; install libclang-rt-dev)"
  exit 0
fi

# The parser's sources only: they are what is fuzzed, instrumented for coverage.
clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/index" "$here/fuzz_card.c" \
  "$root/index/card.c" "$root/index/card_yaml.c" "$root/index/card_body.c" "$root/index/util.c" \
  $(pkg-config --cflags --libs yaml-0.1 libcmark jansson) -lm -o "$work/fuzz_card"

# libFuzzer adds what it finds to the first corpus directory: a scratch copy,
# so that the repository's seed corpus only changes by hand.
mkdir -p "$work/corpus" "$artifacts"
cp "$here/corpus/card/"* "$work/corpus/"
echo "fuzz smoke: fuzzing cx_card_parse for ${seconds}s"
set +e
"$work/fuzz_card" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/card.dict" -artifact_prefix="$artifacts/fuzz_card-" -print_final_stats=1 \
  "$work/corpus" "$root/tests/data/good" "$root/tests/data/bad" >"$work/log" 2>&1
status=$?
set -e
tail -n 40 "$work/log"
if [ "$status" -ne 0 ]; then
  echo "fuzz smoke: FAILED (exit $status); reproducers are in $artifacts/fuzz_card-*" >&2
  exit 1
fi
echo "fuzz smoke: ok"
