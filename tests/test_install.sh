# test_install.sh - the committed man pages match the tools' --help; make install PREFIX=...
# puts the tools, libcharpipe.a, the headers and the man pages there; make uninstall removes them.
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
tools=$(cd "$REPO/tools" && ls *.c | grep -vx cli.c | sed 's/\.c$//')   # cli.c: the tools' helpers

# --- man pages: regenerate from the tools under test and compare with man/*.1 ---
paths=; for t in $tools; do paths="$paths $BIN/$t"; done
if "$REPO/man/mkman.sh" "$TMP/man" $paths 2> mkman.err; then pass man_generate
else fail man_generate "$(cat mkman.err)"; fi
stale=
for t in $tools; do
    if [ ! -f "$REPO/man/$t.1" ]; then stale="$stale $t(missing)"
    elif ! cmp -s "$TMP/man/$t.1" "$REPO/man/$t.1"; then stale="$stale $t"; fi
done
[ -z "$stale" ] && pass man_pages_up_to_date \
    || fail man_pages_up_to_date "man pages differ from --help for:$stale (run make man)"
if command -v man > /dev/null; then
    bad=
    for t in $tools; do
        MANWIDTH=80 man -l "$REPO/man/$t.1" > "$t.txt" 2> "$t.err" || bad="$bad $t(exit)"
        [ -s "$t.err" ] && bad="$bad $t(warnings: $(head -c 100 "$t.err"))"
        grep -q "^ *$t - " "$t.txt" && grep -q '^SYNOPSIS' "$t.txt" && grep -q '^EXIT STATUS' "$t.txt" \
            || bad="$bad $t(content)"
    done
    [ -z "$bad" ] && pass man_pages_render || fail man_pages_render "$bad"
    # options come out as typed (ASCII hyphen-minus), so they can be copied
    grep -q -- '--skip-unknown' vocab.txt && pass man_options_copyable || fail man_options_copyable "$(grep skip vocab.txt)"
else
    skip man_pages_render "man is not installed"
fi

# --- install into a prefix: the tools under test (BIN), its build's library (O) ---
case $BIN in
    "$REPO/bin") O=$REPO/build ;;
    */bin) O=$(dirname "$BIN") ;;
    *) O=$REPO/build ;;
esac
pre=$TMP/prefix
# -o tools: install what is built, never rebuild here (that is make's job before the tests)
if make --no-print-directory -C "$REPO" -o tools install PREFIX="$pre" O="$O" BIN="$BIN" > inst.out 2>&1; then
    pass install_runs; else fail install_runs "$(tail -5 inst.out)"; fi
missing=
for t in $tools; do
    [ -x "$pre/bin/$t" ] || missing="$missing bin/$t"
    [ -f "$pre/share/man/man1/$t.1" ] || missing="$missing man1/$t.1"
done
[ -f "$pre/lib/libcharpipe.a" ] || missing="$missing lib/libcharpipe.a"
for h in "$REPO"/lib/*.h; do [ -f "$pre/include/charpipe/$(basename "$h")" ] || missing="$missing $(basename "$h")"; done
[ -z "$missing" ] && pass install_files || fail install_files "missing:$missing"
"$pre/bin/vocab" --help > vhelp.txt 2>&1 && grep -q '^SYNOPSIS' vhelp.txt \
    && pass installed_tool_runs || fail installed_tool_runs "$(head -3 vhelp.txt)"
printf 'hello world\n' | "$pre/bin/vocab" | "$pre/bin/tdump" --summary > vsum.txt 2>&1 && grep -q '^text' vsum.txt \
    && pass installed_pipeline_runs || fail installed_pipeline_runs "$(cat vsum.txt)"
if command -v man > /dev/null; then
    w=$(MANPATH="$pre/share/man" man -w vocab 2>/dev/null)
    [ "$w" = "$pre/share/man/man1/vocab.1" ] && pass installed_man_found || fail installed_man_found "man -w: $w"
fi
# a program built against the installed header and library (plain cc: no sanitizer runtime)
cat > prog.c <<'EOF'
#include <charpipe/ts.h>
#include <stdio.h>
int main(void) { puts(ts_dtype_name(ts_dtype_parse("f4", 2))); return 0; }
EOF
if cc -I"$pre/include" -c prog.c -o prog.o 2> cc.err; then pass installed_header_compiles
else fail installed_header_compiles "$(head -3 cc.err)"; fi
case $O in
    */san) skip installed_library_links "the sanitizer build's library needs the sanitizer runtime" ;;
    *) if cc -o prog prog.o -L"$pre/lib" -lcharpipe -lmsgpackc -lz -lm -lpthread 2> ld.err && [ "$(./prog)" = f4 ]; then
           pass installed_library_links; else fail installed_library_links "$(head -3 ld.err)"; fi ;;
esac

# --- uninstall: nothing of ours is left ---
if make --no-print-directory -C "$REPO" uninstall PREFIX="$pre" O="$O" BIN="$BIN" > uninst.out 2>&1; then
    pass uninstall_runs; else fail uninstall_runs "$(tail -5 uninst.out)"; fi
left=$(find "$pre" -type f | sed "s|^$pre/||" | tr '\n' ' ')
[ -z "$left" ] && pass uninstall_removes_all || fail uninstall_removes_all "left: $left"
