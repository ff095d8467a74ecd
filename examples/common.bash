# common.bash - what every example starts with (sourced, not run):
#   - the charpipe tools: on PATH, else the repository's bin/ beside this folder;
#   - $work, a scratch directory removed when the example exits;
#   - $text, the example's first argument, or (without one) a small text made here from two
#     sentences repeated $repeat times (default 20).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v train > /dev/null || PATH="$here/../bin:$PATH"
command -v train > /dev/null || { echo "$0: charpipe tools not found: run make first" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

text=${1:-$work/text.txt}
[ $# -ge 1 ] || for _ in $(seq "${repeat:-20}"); do
    printf 'The quick brown fox jumps over the lazy dog.\nA small model learns a small text.\n'; done > "$text"
