#!/usr/bin/env python3
"""stylecheck - the C layout rules of docs/style.md, checked by a tool.

Usage: stylecheck.py SRCDIR [FILE...]

Without FILE arguments every .c and .h under the source folders is
checked.  One line per violation, "file:line: rule: text"; exit status
1 when there is any, 0 otherwise.  The rules are the mechanical part of
the house style (OpenBSD style(9) as the code has it):

  width     at most 80 columns, tabs counted to the next multiple of 8
  blank     no blank or tab at the end of a line
  indent    indentation with tabs; a line may start with blanks only
            inside a comment (" * ...", " */") or as the four-blank
            continuation of a line at the left margin (a prototype's
            or an initializer's second line)
  header    a file starts with a comment; a .c file of a program or a
            library has the NAME and DESCRIPTION of its module
  rettype   a function definition has its return type on a line of its
            own, the name at the start of the next line
  label     a function definition is preceded by its label comment,
            "/* name - what it does */" (main and fuzz entry points
            excepted)
  layer     the tree's one-way dependencies (docs/design.md, The tree):
            lib/util includes nothing of lib/mail or a program, lib/mail
            nothing of a program, a program nothing of another program
            (but etrnctl the reconcile pass it shares with etrnd)
"""
import os
import re
import sys

FOLDERS = ("lib", "etrnd", "etrnctl", "milter", "policy", "tests/unit",
           "tests/fuzz", "tests/policy", "bench")
MODULE_FOLDERS = ("lib/", "etrnd/", "etrnctl/", "milter/", "policy/")
UNLABELLED = ("main", "LLVMFuzzerTestOneInput")
DEF = re.compile(r"^([A-Za-z_]\w*)\(")
INCLUDE = re.compile(r'^#include "([a-z]+)/([^"]+)"')
PROGRAMS = ("etrnd", "etrnctl", "milter", "policy")
LAYER_ALLOWED = {("etrnctl", "etrnd/reconcile.h")}


def sources(srcdir):
    for folder in FOLDERS:
        top = os.path.join(srcdir, folder)
        for root, _dirs, files in os.walk(top):
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(root, name), srcdir)


def width(line):
    return len(line.expandtabs(8))


def label_above(lines, i, name):
    """Is there a comment naming the function just above line i (the
    return type's line)?"""
    j = i - 1
    if j < 0 or not lines[j].rstrip().endswith("*/"):
        return False
    text = []
    while j >= 0:
        text.insert(0, lines[j])
        if lines[j].lstrip().startswith("/*"):
            break
        j -= 1
    block = " ".join(l.strip(" \t/*") for l in text)
    return re.search(r"(^|\s)%s\s+-\s" % re.escape(name), " " + block) \
        is not None


def check(srcdir, rel):
    path = os.path.join(srcdir, rel)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []

    def bad(n, rule, text):
        out.append("%s:%d: %s: %s" % (rel, n, rule, text))

    if not lines or not lines[0].startswith("/*"):
        bad(1, "header", "the file does not start with a comment")
    elif rel.endswith(".c") and rel.startswith(MODULE_FOLDERS):
        head = "\n".join(lines[:40])
        if "NAME" not in head or "DESCRIPTION" not in head:
            bad(1, "header", "no NAME and DESCRIPTION block")
    folder = rel.split("/")[1] if rel.startswith("lib/") else \
        rel.split("/")[0]
    in_comment = False
    for n, line in enumerate(lines, 1):
        inc = INCLUDE.match(line)
        if inc and folder in ("util", "mail") + PROGRAMS:
            what = inc.group(1)
            wrong = (folder == "util" and what in ("mail",) + PROGRAMS) or \
                (folder == "mail" and what in PROGRAMS) or \
                (folder in PROGRAMS and what in PROGRAMS and
                 what != folder and
                 (folder, "%s/%s" % (what, inc.group(2))) not in
                 LAYER_ALLOWED)
            if wrong:
                bad(n, "layer", "%s/ includes %s/%s" %
                    (folder, what, inc.group(2)))
        if width(line) > 80:
            bad(n, "width", "%d columns" % width(line))
        if line != line.rstrip(" \t"):
            bad(n, "blank", "blank at the end of the line")
        if line.startswith(" ") and not in_comment and \
                not re.match(r"^( \*|    \S)", line):
            bad(n, "indent", "indented with blanks")
        # Track /* ... */ roughly: enough for the indent rule.
        code = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        if "/*" in code and "*/" not in code[code.rfind("/*"):]:
            in_comment = True
        elif in_comment and "*/" in code:
            in_comment = False
    if not rel.endswith(".c"):
        return out
    for i, line in enumerate(lines):
        m = DEF.match(line)
        if not m or line.rstrip().endswith((";", ",", "\\")):
            continue
        # A definition: its body's brace at the start of a later line
        # before any ";" that ends a prototype.
        j = i
        while j < len(lines) and not lines[j].startswith("{"):
            if lines[j].rstrip().endswith(";") or (j > i and
                                                  lines[j] == ""):
                j = -1
                break
            j += 1
        if j < 0 or j >= len(lines):
            continue
        name = m.group(1)
        prev = lines[i - 1] if i > 0 else ""
        if prev.strip() == "" or prev.lstrip().startswith(("/*", "*")) \
                or prev.rstrip().endswith((";", "}", "*/")):
            bad(i + 1, "rettype", "%s: no return type line" % name)
            continue
        if name not in UNLABELLED and not label_above(lines, i - 1, name):
            bad(i + 1, "label", "%s: no \"/* %s - ... */\" label" %
                (name, name))
    return out


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: stylecheck.py SRCDIR [FILE...]\n")
        return 2
    srcdir = argv[1]
    files = argv[2:] or list(sources(srcdir))
    problems = []
    for rel in files:
        problems.extend(check(srcdir, rel))
    for p in problems:
        print(p)
    print("stylecheck: %d files, %d problems" % (len(files), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
