#!/usr/bin/env bash
# Builds and briefly runs every cargo-fuzz target: the ot crate's, the server's STOMP parser and
# whole in-process sessions (see fuzz/README.md).
#   FUZZ_SECONDS   time per target (default 20)
#   FUZZ_TARGETS   space-separated subset of targets (default: all)
# Exits non-zero if the build fails or any target finds a crash (saved in fuzz/artifacts/).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.." # cargo-fuzz expects to run from the fuzz crate's parent directory

seconds="${FUZZ_SECONDS:-20}"
targets="${FUZZ_TARGETS:-wire_json laws apply_any stomp_parser session}"
# Stable toolchain: cargo-fuzz needs a few -Z flags. No sanitizer (the crate forbids unsafe
# code, and it halves the build); debug assertions on so overflows panic.
flags=(-s none -a)
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 1
fi

start=$(date +%s)
# One build of all targets (shared dependencies compile once).
if ! cargo fuzz build "${flags[@]}"; then
    echo "run.sh: fuzz build failed" >&2
    exit 1
fi
echo "run.sh: build took $(($(date +%s) - start)) s" >&2

failed=()
for target in $targets; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    extra=()
    case "$target" in
        stomp_parser | session) dict="fuzz/dict/stomp.dict" ;;
        *) dict="fuzz/dict/$target.dict" ;;
    esac
    if [ -f "$dict" ]; then
        extra+=("-dict=$dict")
    fi
    # Committed seeds (read, never written): the corpus grows from them.
    seeds=()
    if [ -d "fuzz/seeds/$target" ]; then
        seeds+=("fuzz/seeds/$target")
    fi
    echo "run.sh: fuzzing $target for ${seconds}s" >&2
    if ! cargo fuzz run "${flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${extra[@]}"; then
        failed+=("$target")
    fi
done

echo "run.sh: total $(($(date +%s) - start)) s" >&2
if [ "${#failed[@]}" -ne 0 ]; then
    echo "run.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/;" \
        "reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a <target> <file>)" >&2
    exit 1
fi
echo "run.sh: all targets ran clean" >&2
