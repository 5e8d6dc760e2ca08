#!/bin/sh
# bench-smoke: milter-load drives null-filter for a second over a unix socket and over TCP;
# every session must pass, and an expectation the filter cannot meet must be reported.
set -eu
load=$1
null=$2
dir=$(mktemp -d)
filter=""
cleanup() {
  [ -z "$filter" ] || kill -9 "$filter" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
check() {
  spec=$1
  "$null" "$spec" 2>"$dir/null.log" &
  filter=$!
  i=0
  until "$load" --socket "$spec" -c 1 --sessions 1 >/dev/null 2>&1; do
    # A TCP port someone else holds: null-filter exits; the caller tries another port.
    kill -0 "$filter" 2>/dev/null || { filter=""; return 1; }
    i=$((i + 1))
    [ "$i" -lt 50 ] || { echo "null-filter never answered on $spec"; cat "$dir/null.log"; exit 1; }
    sleep 0.1
  done
  "$load" --socket "$spec" -c 4 --seconds 1 --pid "$filter" \
    --profile 'pass 1 198.18.0.1 50 mail-{l}.bench s@bench.example pass' >"$dir/out" ||
    { echo "milter-load against null-filter on $spec failed:"; cat "$dir/out"; exit 1; }
  cat "$dir/out"
  grep -q '^  pass pass@eom ' "$dir/out" || { echo "no pass@eom outcome"; exit 1; }
  grep -q '^unexpected 0, errors 0' "$dir/out" || { echo "unexpected outcomes"; exit 1; }
  # The null filter accepts everything: a run expecting rejects must fail, naming the outcome.
  if "$load" --socket "$spec" -c 1 --sessions 5 \
    --profile 'fail 1 198.19.0.1 5 h.bench s@bench.example reject' >"$dir/out2"; then
    echo "milter-load did not report unexpected outcomes"
    cat "$dir/out2"
    exit 1
  fi
  grep -q '^unexpected 5, errors 0' "$dir/out2" || { cat "$dir/out2"; exit 1; }
  kill -9 "$filter"
  wait "$filter" 2>/dev/null || true
  filter=""
}
check "unix:$dir/null.sock" || { echo "null-filter did not start"; cat "$dir/null.log"; exit 1; }
for attempt in 1 2 3; do
  port=$((30000 + ($$ * attempt + attempt * 7919) % 20000))
  if check "inet:$port@127.0.0.1"; then break; fi
  [ "$attempt" -lt 3 ] || { echo "null-filter could not listen on TCP"; cat "$dir/null.log"; exit 1; }
done
echo "bench-smoke: ok"
