#!/usr/bin/env bash
# index_kill.sh — kill -9 cardex-index at random moments of builds of a generated corpus; after
# each kill the index at the target path must be the old one or the new one, intact and complete.
#   index_kill.sh CARDEX_INDEX GEN_CARDS [CARDS] [ITERATIONS]
set -euo pipefail
tool=$1 gen=$2 n=${3:-3000} iterations=${4:-10}
command -v sqlite3 >/dev/null || { echo "index_kill: sqlite3 is missing (apt-get install sqlite3)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/cx-index-kill-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "index_kill: FAIL: $*" >&2; exit 1; }

# Two corpora: a, and b = a plus 500 cards. Each build switches the index from one to
# the other, reusing the cards they share unless --full.
"$gen" "$n" "$tmp/a"
"$gen" $((n + 500)) "$tmp/big"
cp -r "$tmp/a" "$tmp/b"
for i in $(seq $((n + 1)) $((n + 500))); do
  f=$(printf '%03d/Q%06d.md' $(((i - 1) / 1000)) "$i")
  mkdir -p "$(dirname "$tmp/b/$f")"
  cp "$tmp/big/$f" "$tmp/b/$f"
done
declare -A count=([a]=$n [b]=$((n + 500)))
idx="$tmp/out/index.db"
mkdir -p "$tmp/out"

check_index() { # check_index WANT1 WANT2 -> prints the card count found
  local ic got meta
  ic=$(sqlite3 "$idx" "PRAGMA integrity_check") || fail "cannot open $idx"
  [ "$ic" = ok ] || fail "integrity_check: $ic"
  cp "$idx" "$tmp/copy.db"
  sqlite3 "$tmp/copy.db" "INSERT INTO fts(fts) VALUES('integrity-check')" || fail "fts integrity-check"
  got=$(sqlite3 "$idx" "SELECT count(*) FROM cards")
  meta=$(sqlite3 "$idx" "SELECT value FROM meta WHERE key='card_count'")
  [ "$got" = "$meta" ] || fail "cards has $got rows but meta.card_count is $meta"
  [ "$got" = "$1" ] || [ "$got" = "$2" ] || fail "index has $got cards, want $1 or $2"
  echo "$got"
}

start=$(date +%s%N)
"$tool" build -q "$tmp/a" -o "$idx"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(check_index "${count[a]}" "${count[a]}")" = "${count[a]}" ] || fail "first build"
current=a
old=0 new=0
for i in $(seq "$iterations"); do
  other=$([ $current = a ] && echo b || echo a)
  # Half of the builds reuse cards (incremental), half are full.
  full=$([ $((i % 2)) = 0 ] && echo --full || echo)
  "$tool" build -q $full "$tmp/$other" -o "$idx" 2>/dev/null &
  pid=$!
  delay=$(( RANDOM % (ms + ms / 2 + 1) ))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  got=$(check_index "${count[a]}" "${count[b]}")
  if [ "$got" = "${count[$other]}" ]; then current=$other; new=$((new + 1)); else old=$((old + 1)); fi
  echo "iteration $i: killed after ${delay} ms $full; index has $got cards"
done
# A build after the kills succeeds and removes the temp files the killed ones left.
"$tool" build -q "$tmp/a" -o "$idx"
[ "$(check_index "${count[a]}" "${count[a]}")" = "${count[a]}" ] || fail "final build"
left=$(find "$tmp/out" -name '*.tmp-*' | wc -l)
[ "$left" = 0 ] || fail "$left temp files left behind: $(ls "$tmp/out")"
echo "index_kill: ok ($iterations kills: $old left the old index, $new the new one)"
