#!/bin/sh
# Every run in docs/benchmarks.md, in order, medians of $RUNS runs (default 3). Results (the
# printed tables and one JSON line per scenario) go to $OUT (default /tmp/wr-bench-results/<time>).
# Takes about 40 minutes on a 2-core machine; the clinic drain alone is ~500 s at 1 send/s.
#   sh bench/suite.sh            # everything
#   RUNS=5 sh bench/suite.sh
set -eu
RUNS=${RUNS:-3}
OUT=${OUT:-/tmp/wr-bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
bench() { name=$1; shift; echo "### $name: npm run bench -- $*" | tee -a "$OUT/summary.md"; npm run --silent bench -- "$@" --json >"$OUT/$name.out" 2>"$OUT/$name.err" || echo "FAILED (see $OUT/$name.err)" | tee -a "$OUT/summary.md"; grep -v '^{' "$OUT/$name.out" | tee -a "$OUT/summary.md"; }
{ echo "nproc $(nproc); $(free -m | awk '/Mem:/{print $2" MiB RAM"}'); kernel $(uname -r); node $(node -v); load $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee "$OUT/summary.md"
bench reuse-4k --runs "$RUNS"
bench reuse-4k-one-thread --no-delivery-thread --runs "$RUNS"
bench accept-only-4k --accept-only --runs "$RUNS"
bench one-per-conn-4k-delay100 --one-per-connection --greeting-delay 100 --count 2000 --runs "$RUNS"
bench one-per-conn-4k-delay0 --one-per-connection --greeting-delay 0 --count 2000 --runs "$RUNS"
bench reuse-100k --size 100KiB --count 2000 --runs "$RUNS"
bench reuse-2m --size 2MiB --count 500 --connections 32 --runs "$RUNS"
bench large-25mb --scenario large --runs "$RUNS"
bench large-25mb-8conns --scenario large --connections 8 --runs 1
bench scans-25mb-dist --scenario scans --from-dist --runs "$RUNS"
bench scans-25mb-dist-semi1 --scenario scans --from-dist --node-flags=--max-semi-space-size=1 --runs "$RUNS"
bench clinic --scenario clinic --runs 1
bench postfix-reuse-4k --scenario postfix --runs "$RUNS"
bench postfix-one-per-conn-delay0 --scenario postfix --one-per-connection --greeting-delay 0 --runs "$RUNS"
bench postfix-one-per-conn-delay100 --scenario postfix --one-per-connection --greeting-delay 100 --count 2000 --runs "$RUNS"
bench postfix-2m --scenario postfix --size 2097152 --count 500 --connections 32 --runs "$RUNS"
bench devices --scenario devices --runs "$RUNS"
echo "done: $OUT/summary.md"
