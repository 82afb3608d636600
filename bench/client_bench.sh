#!/usr/bin/env bash
# client_bench.sh — whole-process time of `cardex QUESTION` (spawn to exit, daemon running)
# against `sqlite3 INDEX "SELECT … MATCH …"` and `rg -i WORD seeds/`, measured in one run.
#   bench/client_bench.sh [BUILD_DIR]        (needs hyperfine, sqlite3, rg: apt-get install hyperfine sqlite3 ripgrep)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for t in hyperfine sqlite3 rg; do
  command -v $t >/dev/null || { echo "client_bench: $t is missing (apt-get install hyperfine sqlite3 ripgrep)" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
"$build/index/cardex-index" build seeds -o "$tmp/index.db" >/dev/null 2>&1
"$build/daemon/cardexd" --index "$tmp/index.db" --socket "$tmp/s.sock" --log-level error &
daemon=$!
for _ in $(seq 100); do "$build/client/cardex" --socket "$tmp/s.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done

word=${WORD:-isms}
hyperfine -N --warmup 20 --runs ${RUNS:-300} --export-json "$tmp/h.json" \
  -n cardex "$build/client/cardex --socket $tmp/s.sock $word" \
  -n sqlite3 "sqlite3 $tmp/index.db \"SELECT c.id, c.query FROM fts JOIN cards c ON c.rowid = fts.rowid WHERE fts MATCH '$word' ORDER BY rank LIMIT 10\"" \
  -n rg "rg -i $word seeds/" >/dev/null 2>&1
python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c = r["cardex"]["median"]
print("whole-process median, %d runs each (hyperfine -N):" % len(r["cardex"]["times"]))
for name in ("cardex", "sqlite3", "rg"):
    m = r[name]["median"]
    print("  %-8s %7.3f ms   cardex/%s = %.2f" % (name, m * 1e3, name, c / m))
print("target: cardex median <= rg median and <= 3 ms: %s" %
      ("met" if c <= r["rg"]["median"] and c <= 0.003 else "NOT met"))
PY
