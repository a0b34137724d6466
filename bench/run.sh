#!/usr/bin/env bash
# bench/run.sh — every benchmark, each against its baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/copy.sh "${BENCH_ROWS:-2000000}"
bash bench/cutover.sh "${BENCH_RUNS:-5}"
bash bench/stream.sh "${BENCH_CHANGES:-500000}"
bash bench/copy_partitions.sh "${BENCH_PARTITION_ROWS:-1000000}"
