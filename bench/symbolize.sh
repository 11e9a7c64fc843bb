#!/usr/bin/env bash
# Benchmarks of symbolize/ and dwarfsym/: parsing (parse + demangle + normalize + tag) per
# trace, DWARF symbolization per frame (cold and cached), and the same
# inputs through llvm-symbolizer and llvm-cxxfilt in the same run, with the
# ratios (theirs / ours: above 1 means symbolize is faster).
#
#   bench/symbolize.sh            # GOMAXPROCS=1, 1 s per benchmark
#   BENCHTIME=3s bench/symbolize.sh
#
# Needs the fixture's ASan build (built on demand, about a minute cold) and
# /usr/lib/llvm-16/bin/llvm-symbolizer and llvm-cxxfilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOMAXPROCS=${GOMAXPROCS:-1}
go test -run '^$' -bench 'Benchmark(Parse|Normalize|Symbolize|LLVMComparison)$' \
    -benchtime "${BENCHTIME:-1s}" -timeout 30m ./symbolize/ ./dwarfsym/ | tee /dev/stderr | awk '
    /^BenchmarkLLVMComparison/ {
        for (i = 1; i <= NF; i++) m[$(i+1)] = $i
        printf "\none 40-frame trace from nothing (a new llvm-symbolizer process vs a new Symbolizer):\n"
        printf "  llvm-symbolizer   %8.1f ms\n", m["llvm-symbolizer-ms/40-frame-trace"]
        printf "  ours, cold        %8.1f ms                               %.1fx\n", m["ours-cold-ms/40-frame-trace"], m["x-trace-cold-vs-llvm"]
        printf "llvm-symbolizer vs symbolize on %d code addresses of one binary:\n", m["frames"]
        printf "  llvm-symbolizer   %8.0f ns/frame (one process, whole batch)\n", m["llvm-symbolizer-ns/frame"]
        printf "  ours, cold        %8.0f ns/frame (open + DWARF + index)  %.1fx\n", m["ours-cold-ns/frame"], m["x-cold-vs-llvm"]
        printf "  ours, cached      %8.0f ns/frame                         %.1fx\n", m["ours-cached-ns/frame"], m["x-cached-vs-llvm"]
        printf "llvm-cxxfilt vs Demangle on %d symbols:\n", m["symbols"]
        printf "  llvm-cxxfilt      %8.0f ns/symbol\n", m["llvm-cxxfilt-ns/symbol"]
        printf "  ours              %8.0f ns/symbol                        %.1fx\n", m["ours-demangle-ns/symbol"], m["x-demangle-vs-cxxfilt"]
    }'
