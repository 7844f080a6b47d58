#!/bin/sh
# Install the Debian packages qlens needs, when any is missing.
# A no-op (and silent) when everything is present.
#   sh scripts/deps.sh [fuzz|valgrind]   also what `make fuzz` (clang and its
#                                        libFuzzer runtime) or `make valgrind` needs  Runs apt-get as root;
# as another user it says what to install instead.
set -e
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_bin() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }

need_bin cc gcc
need_bin make make
need_bin pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc ncursesw libncurses-dev
    need_pc openblas libopenblas-dev
    need_pc libcjson libcjson-dev
    need_pc gsl libgsl-dev
    need_pc check check
else
    missing="$missing libncurses-dev libopenblas-dev libcjson-dev libgsl-dev check"
fi
need_bin tmux tmux          # the TUI tests drive the real binary in tmux
need_bin python3 python3    # the CLI tests check JSON output with it
need_bin chromium chromium  # tests/e2e_report.sh opens the HTML report in it
need_bin xmllint libxml2-utils # well-formedness of the report's XHTML and SVG
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
# terminfo for tmux's TERM (screen / tmux-256color)
[ -e /usr/share/terminfo/t/tmux-256color ] || [ -e /lib/terminfo/t/tmux-256color ] || missing="$missing ncurses-term"

case "$1" in
fuzz)
    need_bin clang clang
    # libFuzzer and the sanitizer runtimes of that clang
    if ! command -v clang >/dev/null 2>&1 ||
        [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then
        missing="$missing libclang-rt-dev"
    fi ;;
valgrind)
    need_bin valgrind valgrind ;;
esac

[ -z "$missing" ] && exit 0
echo "qlens: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
    echo "qlens: not root; run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
