#!/usr/bin/env bash
# index_tool.sh — cardex-index as people use it: commands, messages, exit statuses.
#   index_tool.sh CARDEX_INDEX SEEDS_DIR
set -uo pipefail
tool=$1 seeds=$2
tmp=$(mktemp -d /tmp/cx-index-tool-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "index_tool: FAIL: $*" >&2; failures=$((failures + 1)); }
# expect STATUS CMD... : runs CMD, stdout in $tmp/out, stderr in $tmp/err, checks the status.
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, want $want; stderr: $(head -c 600 "$tmp/err")"
}
has() { grep -qF -- "$2" "$tmp/$1" || fail "$1 lacks '$2': $(head -c 600 "$tmp/$1")"; }

expect 0 "$tool" --version; has out "cardex-index "
expect 0 "$tool" --help; has out "exit status"; has out "build"
expect 0 "$tool" build --help; has out "--keep-going"
expect 0 "$tool" help check; has out "cardex-index check"
expect 2 "$tool"; has err "usage"
expect 2 "$tool" frobnicate; has err "unknown command 'frobnicate'"
expect 2 "$tool" build "$seeds"; has err "-o INDEX"
expect 2 "$tool" build --threads zero "$seeds" -o "$tmp/x.db"; has err "--threads needs a number"
expect 2 "$tool" build --bogus "$seeds" -o "$tmp/x.db"; has err "unknown option '--bogus'"

mkdir "$tmp/cards"
cp "$seeds"/*.md "$tmp/cards/"
[ -f "$seeds/synonyms.yaml" ] && cp "$seeds/synonyms.yaml" "$tmp/cards/"
n=$(ls "$tmp/cards"/*.md | grep -v README.md | wc -l)

expect 0 "$tool" build "$tmp/cards" -o "$tmp/cardex.db"
has err "cardex-index: $n cards (0 reused, $n parsed, 0 removed), 0 errors"
has err "-> $tmp/cardex.db"
expect 0 "$tool" build "$tmp/cards" -o "$tmp/cardex.db"
has err "($n reused, 0 parsed, 0 removed)"

# dump: a file is parsed, an id is looked up in the index.
expect 0 "$tool" dump "$tmp/cards/Q077.md"; has out '"id": "Q077"'
expect 0 "$tool" dump Q077 --index "$tmp/cardex.db"; has out '"id": "Q077"'; has out '"sections"'
# The index keeps the sections in their own table: the id's dump is the file's, but the path.
"$tool" dump "$tmp/cards/Q077.md" | grep -v '"path":' >"$tmp/dump-file" || fail "dump of the file"
grep -v '"path":' "$tmp/out" | cmp -s - "$tmp/dump-file" || fail "dump by id differs from the file's"
expect 1 "$tool" dump Q999999 --index "$tmp/cardex.db"; has err "no card has id Q999999"
expect 4 "$tool" dump Q077 --index "$tmp/missing.db"; has err "missing.db"

# A bad card: strict build fails and writes nothing; --keep-going writes the rest and exits 3.
printf 'query: a card without id\n---\nbody\n' >"$tmp/cards/zz_bad.md"
cp "$tmp/cardex.db" "$tmp/before.db"
expect 1 "$tool" build "$tmp/cards" -o "$tmp/cardex.db"
has err "zz_bad.md:"; has err "error:"; has err "(not written)"
cmp -s "$tmp/cardex.db" "$tmp/before.db" || fail "a failed build changed the index"
expect 3 "$tool" build --keep-going "$tmp/cards" -o "$tmp/cardex.db"
has err "$n cards"; has err "1 error"
expect 1 "$tool" check "$tmp/cards"; has err "zz_bad.md:"; has err "checked $n cards in $((n + 1)) files"

# Duplicate ids name both files, at the id's line and column.
rm "$tmp/cards/zz_bad.md"
cp "$tmp/cards/Q077.md" "$tmp/cards/a.md"
expect 1 "$tool" build "$tmp/cards" -o "$tmp/cardex.db"
has err "$tmp/cards/a.md:1:5: error: duplicate id Q077 (also in $tmp/cards/Q077.md)"
rm "$tmp/cards/a.md"

# Refuses to replace what is not an index.
echo "precious" >"$tmp/notes.txt"
expect 2 "$tool" build "$tmp/cards" -o "$tmp/notes.txt"; has err "not a cardex index"
grep -q precious "$tmp/notes.txt" || fail "notes.txt was replaced"

# -q: nothing on stderr for a clean build.
rm -f "$tmp/q.db"
"$tool" build -q "$tmp/cards" -o "$tmp/q.db" 2>"$tmp/err" | cat
grep -q "cards (" "$tmp/err" && fail "-q printed a summary"

[ "$failures" = 0 ] && echo "index_tool: ok" || { echo "index_tool: $failures failures" >&2; exit 1; }
