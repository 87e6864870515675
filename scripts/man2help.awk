# man2help.awk - turns the manual page docs/luastream.1 into the text of
# `luastream --help` (the Makefile makes a C string of it), so the two never
# disagree. Reads the few man macros the page uses (.SH .SS .PP .TP .IP .RS
# .RE .nf .fi .B .I .BI .IB .BR .IR .RB .RI) and the inline escapes \fB \fI
# \fR \fP \- \e \&. Keeps the sections named in SECTIONS, in page order;
# wraps paragraphs at 79 columns, option tags in a 22-column margin.
#   awk -f scripts/man2help.awk docs/luastream.1
BEGIN {
    split("SYNOPSIS|RUN OPTIONS|EXPLAIN OPTIONS|PRODUCE OPTIONS|CONSUME OPTIONS|TEST OPTIONS|STATUS OPTIONS|EXIT STATUS", s, "|")
    for (i in s) want[s[i]] = 1
    title["SYNOPSIS"] = "usage"
    WIDTH = 79; MARGIN = 22
    keep = 0; verbatim = 0; para = ""; tag = ""; expect_tag = 0; indent = 2; printed = 0
}

function inline(t) {
    gsub(/\\f[BIRP]/, "", t)
    gsub(/\\-/, "-", t)
    gsub(/\\&/, "", t)
    gsub(/\\\(em/, "--", t)
    gsub(/\\e/, "\\", t)
    return t
}

# Macro arguments: words, or "quoted strings", joined (alternating fonts
# need no spaces: .BI \-\-set " NAME" -> --set NAME).
function args(line, joiner,    out, n, c, i, inq, cur, started) {
    out = ""; cur = ""; inq = 0; started = 0; n = length(line)
    for (i = 1; i <= n; i++) {
        c = substr(line, i, 1)
        if (c == "\"") { inq = !inq; started = 1; continue }
        if (c == " " && !inq) {
            if (started) { out = out (out == "" ? "" : joiner) cur; cur = ""; started = 0 }
            continue
        }
        cur = cur c; started = 1
    }
    if (started) out = out (out == "" ? "" : joiner) cur
    return inline(out)
}

# Prints text wrapped at WIDTH after `first` (a prefix `lead` columns
# wide); continuation lines are indented by `ind`.
function wrap(first, lead, text, ind,    n, w, i, line, len, fresh) {
    n = split(text, w, /[ \t]+/)
    line = first; len = lead; fresh = 1
    for (i = 1; i <= n; i++) {
        if (w[i] == "") continue
        if (!fresh && len + 1 + length(w[i]) > WIDTH) {
            print line; line = sprintf("%" ind "s", ""); len = ind; fresh = 1
        }
        if (!fresh) { line = line " "; len++ }
        line = line w[i]; len += length(w[i]); fresh = 0
    }
    print line
}

function flush() {
    if (!keep) { para = ""; tag = ""; return }
    if (tag != "") {
        if (length(tag) + 3 <= MARGIN) wrap(sprintf("  %-" (MARGIN - 2) "s", tag), MARGIN, para, MARGIN)
        else { print "  " tag; if (para != "") wrap(sprintf("%" MARGIN "s", ""), MARGIN, para, MARGIN) }
    } else if (para != "") {
        wrap(sprintf("%" indent "s", ""), indent, para, indent)
    }
    para = ""; tag = ""
}

/^\.\\"/ { next }
/^\.(SH|SS)/ {
    flush()
    name = args(substr($0, 5), " ")
    keep = (name in want)
    if (keep) {
        if (printed) print ""
        t = (name in title) ? title[name] : tolower(name)
        print t ":"
        printed = 1
    }
    next
}
/^\.TH/ { next }
/^\.(PP|LP|P)$/ { flush(); next }
/^\.TP/ { flush(); expect_tag = 1; next }
/^\.IP/ { flush(); tag = args(substr($0, 5), " "); next }
/^\.RS/ { flush(); indent += 4; next }
/^\.RE/ { flush(); indent -= 4; if (indent < 2) indent = 2; next }
/^\.nf/ { flush(); verbatim = 1; next }
/^\.fi/ { verbatim = 0; next }
{
    if (verbatim) { if (keep) print "  " inline($0); next }
    line = $0
    if (line ~ /^\.(B|I) /) line = args(substr(line, 4), " ")
    else if (line ~ /^\.(BI|IB|BR|RB|IR|RI) /) line = args(substr(line, 5), "")
    else if (line ~ /^\./) next
    else line = inline(line)
    if (expect_tag) { tag = line; expect_tag = 0; next }
    para = para (para == "" ? "" : " ") line
}
END {
    flush()
    print ""
    print "The Lua API, outputs and semantics: README.md; everything here: man luastream."
}
