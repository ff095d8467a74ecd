#!/usr/bin/env bash
# mkman.sh OUTDIR TOOL... - write OUTDIR/NAME.1, a roff man page, from each TOOL's --help.
#
# The --help pages are man-style already: headings in capitals at column 0 (NAME, SYNOPSIS,
# DESCRIPTION, OPTIONS, ENVIRONMENT, EXAMPLE(S), EXIT STATUS), the text indented by 4. They
# become:
#   heading                      .SH HEADING
#   SYNOPSIS, EXAMPLE(S)         verbatim (.nf), as in the help
#   OPTIONS, ENVIRONMENT         one .TP item per option line (a line indented less than the
#                                description column, split at its first gap of 2+ spaces or,
#                                without one, at that column), its continuation lines filled
#   any other section            lines at the base indent are filled text; lines indented
#                                deeper (tables, formulas) stay verbatim; a blank line is .PP
# Text is escaped for roff (\ - ^ ~ ' ` and a leading . or '). A machine-dependent detail
# ("all CPUs, 2 here") is dropped so the pages do not depend on where they were made.
# Used by 'make man'; tests/test_install.sh checks the committed pages against this output.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: mkman.sh OUTDIR TOOL..." >&2; exit 2; }
out=$1; shift
mkdir -p "$out"

for tool in "$@"; do
    name=$(basename "$tool")
    help=$("$tool" --help) || { echo "mkman.sh: $tool --help failed" >&2; exit 1; }
    printf '%s\n' "$help" | sed -E 's/, [0-9]+ here\)/)/' | LC_ALL=C awk -v name="$name" '
    function esc(s) {
        gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); gsub(/\^/, "\\(ha", s); gsub(/~/, "\\(ti", s)
        gsub(/\047/, "\\(aq", s); gsub(/`/, "\\(ga", s)
        return s
    }
    function line(s) {                 # one output line; a leading . or \x27 must not start a request
        if (s ~ /^[.\047]/) s = "\\&" s
        print s
    }
    function indent(s) { match(s, /^ */); return RLENGTH }
    function gap(s,   ind, p) {     # the column after the first run of 2+ spaces past the indent
        ind = indent(s); p = index(substr(s, ind + 1), "  ")
        if (p == 0) return 0
        p += ind; while (substr(s, p + 1, 1) == " ") p++
        return p
    }
    function nofill_on()  { if (!nf) { print ".nf"; nf = 1 } }
    function nofill_off() { if (nf)  { print ".fi"; nf = 0 } }
    function bold_opts(tag,   n, i, w, r, tail) {   # option words in bold, arguments as they are
        n = split(tag, w, / /); r = ""
        for (i = 1; i <= n; i++) {
            if (i > 1) r = r " "
            if (w[i] ~ /^-/) {
                tail = ""; if (w[i] ~ /,$/) { tail = ","; sub(/,$/, "", w[i]) }
                r = r "\\fB" esc(w[i]) "\\fR" tail
            } else r = r esc(w[i])
        }
        return r
    }
    # the column where descriptions start in an options section: the most common column of
    # the text after the first gap of two or more spaces on an item line
    function desc_column(first, last,   i, s, c, best, bestn, cnt) {
        delete cnt; best = 0; bestn = 0
        for (i = first; i <= last; i++) {
            s = L[i]
            if (s ~ /^ *$/ || indent(s) > 8) continue
            c = gap(s); if (c > 0) cnt[c]++
        }
        for (c in cnt)
            if (cnt[c] > bestn || (cnt[c] == bestn && c + 0 < best)) { best = c + 0; bestn = cnt[c] }
        return best
    }
    function flush_item() {
        if (tag == "" && desc == "") return
        print ".TP"; line(bold_opts(tag)); if (desc != "") line(esc(desc))
        tag = ""; desc = ""
    }
    function section(first, last, kind,   i, s, ind, col, base) {
        if (kind == "verbatim") {
            nofill_on()
            for (i = first; i <= last; i++) { s = L[i]; sub(/^    /, "", s); line(esc(s)) }
            nofill_off(); return
        }
        if (kind == "items") {
            col = desc_column(first, last); tag = ""; desc = ""
            for (i = first; i <= last; i++) {
                s = L[i]; ind = indent(s)
                if (s ~ /^ *$/) { flush_item(); continue }
                if (ind < col && ind <= 8) {            # a new item: TAG  description
                    flush_item()
                    if (gap(s) > 0) {                   # TAG, two spaces or more, text
                        tag = substr(s, 1, gap(s)); desc = substr(s, gap(s) + 1)
                    } else if (col > 0 && length(s) > col && substr(s, col, 1) == " ") {
                        tag = substr(s, 1, col); desc = substr(s, col + 1)   # a tag that fills its column
                    } else { tag = s; desc = "" }
                    gsub(/^ +| +$/, "", tag)
                } else {                                # continuation of the description
                    sub(/^ +/, "", s); desc = desc (desc == "" ? "" : " ") s
                }
            }
            flush_item(); return
        }
        base = 4
        for (i = first; i <= last; i++) {
            s = L[i]
            if (s ~ /^ *$/) { nofill_off(); if (i > first && i < last) print ".PP"; continue }
            ind = indent(s)
            if (ind > base) { nofill_on(); s = substr(s, base + 1); line(esc(s)) }
            else {
                nofill_off(); sub(/^ +/, "", s)
                line(esc(s))
            }
        }
        nofill_off()
    }
    function flush_section(   kind, last) {
        if (head == "") return
        last = n
        while (last > start && L[last] ~ /^ *$/) last--
        kind = "fill"
        if (head == "SYNOPSIS" || head ~ /^EXAMPLES?$/) kind = "verbatim"
        else if (head == "OPTIONS" || head == "ENVIRONMENT") kind = "items"
        print ".SH " head
        if (last > start) section(start + 1, last, kind)
    }
    BEGIN {
        print ".\\\" Generated by man/mkman.sh from \x27" name " --help\x27; do not edit."
        print ".TH " toupper(name) " 1 \"\" \"charpipe\" \"charpipe manual\""
        print ".ad l"; print ".nh"
        n = 0; head = ""
    }
    /^[A-Z][A-Z ]*[A-Z]$/ { flush_section(); head = $0; n++; L[n] = $0; start = n; next }
    { sub(/[ \t]+$/, ""); n++; L[n] = $0 }
    END { flush_section() }
    ' > "$out/$name.1.tmp"
    mv "$out/$name.1.tmp" "$out/$name.1"
done
