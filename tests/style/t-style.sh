#!/bin/sh
# t-style - the C sources keep the layout rules of docs/style.md
# (tests/style/stylecheck.py: width, blanks, tab indentation, file
# headers, return type lines, function labels).  A violation fails the
# test with file:line and the rule.
set -eu
top=${top_srcdir:-$(dirname "$0")/../..}
python3 "$top/tests/style/stylecheck.py" "$top"
