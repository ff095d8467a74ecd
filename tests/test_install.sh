# test_install.sh - the committed man pages match the tools' --help; make install PREFIX=...
# puts the tools, libcharpipe.a, the public headers, charpipe.pc, the man pages and the bash
# completion (working, and found by bash-completion) there; a
# program built with pkg-config against the installed library gets error returns (it is not
# ended) for a damaged stream, an unknown kernel set and a garbage model; make uninstall
# removes everything.
. "$TESTS/lib.sh"
REPO=$(cd "$TESTS/.." && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
tools=$(cd "$REPO/tools" && ls *.c | grep -vx -e cli.c -e output.c -e train_mpi.c | sed 's/\.c$//')   # cli.c, output.c: the tools' helpers; train_mpi.c: part of the MPI train

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

# --- the Makefile honours CPPFLAGS and LDFLAGS (dpkg-buildflags' hardening reaches the build):
# in the commands a build of one tool would run, every compile has the CPPFLAGS, every link the
# LDFLAGS (a dry run into a scratch directory: nothing is built)
make --no-print-directory -C "$REPO" -n -B V=1 O="$TMP/flags" BIN="$TMP/flags/bin" \
    CPPFLAGS=-DCHARPIPE_TEST_CPPFLAGS LDFLAGS=-Wl,-z,charpipetestldflags "$TMP/flags/bin/vocab" > flags.out 2>&1
cc_lines=$(grep -c -- ' -c -o ' flags.out); cc_with=$(grep -- ' -c -o ' flags.out | grep -c -- -DCHARPIPE_TEST_CPPFLAGS)
ld_with=$(grep -- "-o $TMP/flags/bin/vocab " flags.out | grep -c -- -Wl,-z,charpipetestldflags)
if [ "$cc_lines" -gt 5 ] && [ "$cc_with" = "$cc_lines" ] && [ "$ld_with" = 1 ]; then pass make_honours_cppflags_ldflags
else fail make_honours_cppflags_ldflags "$cc_with of $cc_lines compiles with CPPFLAGS, $ld_with links with LDFLAGS: $(tail -3 flags.out)"; fi

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
headers="ts.h kern.h lstm.h model.h rng.h par.h utf8.h sampling.h frame.h"   # the Makefile's PUBLIC_H
for h in $headers; do [ -f "$pre/include/charpipe/$h" ] || missing="$missing $h"; done
[ -f "$pre/lib/pkgconfig/charpipe.pc" ] || missing="$missing lib/pkgconfig/charpipe.pc"
[ -z "$missing" ] && pass install_files || fail install_files "missing:$missing"
"$pre/bin/vocab" --help > vhelp.txt 2>&1 && grep -q '^SYNOPSIS' vhelp.txt \
    && pass installed_tool_runs || fail installed_tool_runs "$(head -3 vhelp.txt)"
printf 'hello world\n' | "$pre/bin/vocab" | "$pre/bin/tdump" --summary > vsum.txt 2>&1 && grep -q '^text' vsum.txt \
    && pass installed_pipeline_runs || fail installed_pipeline_runs "$(cat vsum.txt)"
if command -v man > /dev/null; then
    w=$(MANPATH="$pre/share/man" man -w vocab 2>/dev/null)
    [ "$w" = "$pre/share/man/man1/vocab.1" ] && pass installed_man_found || fail installed_man_found "man -w: $w"
fi
# a program built against the installed header and library (the sanitizer build's library
# needs the sanitizer runtime: its programs link with the same -fsanitize)
SANLD=
case $O in */san) SANLD="-fsanitize=address,undefined" ;; esac
cat > prog.c <<'EOF'
#include <charpipe/ts.h>
#include <stdio.h>
int main(void) { puts(ts_dtype_name(ts_dtype_parse("f4", 2))); return 0; }
EOF
if cc -I"$pre/include" -c prog.c -o prog.o 2> cc.err; then pass installed_header_compiles
else fail installed_header_compiles "$(head -3 cc.err)"; fi
if cc $SANLD -o prog prog.o -L"$pre/lib" -lcharpipe -lmsgpackc -lz -lm -lpthread 2> ld.err && [ "$(./prog)" = f4 ]; then
    pass installed_library_links; else fail installed_library_links "$(head -3 ld.err)"; fi
# every installed header compiles on its own, and twice (include guards), warning-free
bad=
for h in $headers; do
    printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$h" "$h" > h.c
    cc -std=gnu11 -Wall -Wextra -Werror -I"$pre/include/charpipe" -fsyntax-only h.c 2> h.err \
        || bad="$bad $h($(head -c 150 h.err))"
done
[ -z "$bad" ] && pass installed_headers_standalone || fail installed_headers_standalone "$bad"

# a program built with pkg-config against the installed library: the library's errors come
# back as return values with a message, and the program goes on after each of them
export PKG_CONFIG_PATH="$pre/lib/pkgconfig"
cat > lib.c <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "kern.h"
#include "model.h"
#include "ts.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = open(argv[1], O_RDONLY);            /* a truncated stream */
    ts_reader *r = ts_reader_open(fd, "cut.ts");
    if (fd < 0 || !r)
        return 3;
    ts_frame f;
    int rc, n = 0;
    while ((rc = ts_read(r, &f)) > 0)
        n++;
    printf("read: %d after %d frames: %s\n", rc, n, ts_reader_error(r));
    ts_reader_close(r);
    close(fd);

    char err[256] = "";
    const kern_ops *k = kern_choose("nosuch", err, sizeof err);
    printf("kern_choose: %s: %s\n", k ? k->name : "NULL", err);
    k = kern_choose(NULL, err, sizeof err);
    printf("best: %s\n", k && kern_get(k->name) == k ? "usable" : "unusable");

    model m;
    err[0] = 0;
    rc = model_read(&m, NULL, argv[2], err, sizeof err);
    printf("model_read: %d: %s\n", rc, err);
    puts("still running");
    return 0;
}
EOF
printf 'hello world, hello library\n' | "$pre/bin/vocab" > full.ts
head -c $(( $(wc -c < full.ts) - 12 )) full.ts > cut.ts      # the gzip trailer and more cut off
printf 'this is not a model\n' > garbage.model
if ! command -v pkg-config > /dev/null; then skip installed_library_pkgconfig "no pkg-config"
elif ! flags=$(pkg-config --cflags --libs charpipe 2> pc.err); then fail installed_library_pkgconfig "$(cat pc.err)"
# $flags unquoted: one word per flag
elif ! cc -std=gnu11 -Wall $SANLD -o libprog lib.c $flags 2> cc.err; then fail installed_library_pkgconfig "$(head -5 cc.err)"
else
    pass installed_library_pkgconfig
    ./libprog cut.ts garbage.model > lib.out 2> lib.err; rc=$?
    [ $rc = 0 ] && [ "$(tail -1 lib.out)" = "still running" ] && [ ! -s lib.err ] \
        && pass library_returns_not_exits || fail library_returns_not_exits "exit $rc: $(cat lib.out lib.err)"
    grep -Eq '^read: -1 after [0-9]+ frames: cut.ts: truncated stream' lib.out \
        && pass library_truncated_stream_error || fail library_truncated_stream_error "$(cat lib.out)"
    grep -Eq '^kern_choose: NULL: nosuch: unknown or not supported by this CPU \(this CPU runs:( [a-z0-9]+)* scalar\)$' lib.out \
        && grep -q '^best: usable$' lib.out \
        && pass library_kern_choose_error || fail library_kern_choose_error "$(cat lib.out)"
    grep -Eq '^model_read: -1: .*garbage.model: .+' lib.out \
        && pass library_model_read_error || fail library_model_read_error "$(cat lib.out)"
fi

# --- bash completion: a file for every tool where bash-completion looks, completing options
# from the tool's --help and file names after the options that take one ---
comp=$pre/share/bash-completion/completions
missing=
for t in $tools; do [ -e "$comp/$t" ] || missing="$missing $t"; done
[ -z "$missing" ] && pass completion_installed_for_every_tool || fail completion_installed_for_every_tool "missing:$missing"
touch model.cp notes.st "my model.cp"
complete_words() {   # TOOL WORDS...: what completing the last word offers, one per line
    PATH="$pre/bin:$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _charpipe "$1"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$comp/$1" "$@" 2>&1
}
got=$(complete_words train train --ou | tr '\n' ' ')
[ "$got" = "--output " ] && pass completion_long_option || fail completion_long_option "train --ou: '$got'"
got=$(complete_words export-model export-model - | tr '\n' ' ')
[[ " $got" == *" --force "* && " $got" == *" --version "* && " $got" == *" -m "* ]] \
    && pass completion_options_from_help || fail completion_options_from_help "export-model -: '$got'"
got=$(complete_words sample sample -m mod | tr '\n' ' ')
[ "$got" = "model.cp " ] && pass completion_file_argument || fail completion_file_argument "sample -m mod: '$got'"
got=$(complete_words evaluate evaluate -m "my" | tr '\n' '|')
[ "$got" = "my model.cp|" ] && pass completion_file_with_a_space || fail completion_file_with_a_space "evaluate -m my: '$got'"
got=$(complete_words train train --cell g | tr '\n' ' ')
[ "$got" = "gru " ] && pass completion_values || fail completion_values "train --cell g: '$got'"
got=$(complete_words train train -e "" | tr '\n' ' ')
[ "$got" = " " ] && pass completion_number_offers_nothing || fail completion_number_offers_nothing "train -e: '$got'"
# loaded by bash-completion itself, by the command's name, from PREFIX/share (XDG_DATA_DIRS)
if [ -f /usr/share/bash-completion/bash_completion ]; then
    got=$(XDG_DATA_DIRS="$pre/share" bash -c '. /usr/share/bash-completion/bash_completion
        __load_completion window && complete -p window' 2>&1)
    [[ $got == *"-F _charpipe window"* ]] && pass completion_found_by_bash_completion \
        || fail completion_found_by_bash_completion "$got"
else
    skip completion_found_by_bash_completion "bash-completion is not installed"
fi

# --- uninstall: nothing of ours is left ---
if make --no-print-directory -C "$REPO" uninstall PREFIX="$pre" O="$O" BIN="$BIN" > uninst.out 2>&1; then
    pass uninstall_runs; else fail uninstall_runs "$(tail -5 uninst.out)"; fi
left=$(find "$pre" ! -type d | sed "s|^$pre/||" | tr '\n' ' ')
[ -z "$left" ] && pass uninstall_removes_all || fail uninstall_removes_all "left: $left"
