#!/usr/bin/env python3
"""Parses HTML files with html5lib (the WHATWG parsing algorithm) and reports every parse
error — each one strict mode would raise on — and checks the document is self-contained: no element loads anything from
elsewhere (script src, link href, img/iframe/source src, CSS url() or @import).
Runs with Debian's python3-html5lib: /usr/bin/python3 tools/validate/html_check.py FILE...

Prints one line per problem (file: line:col: what) and exits 1 if there was any, else 0.
"""
import re
import sys

import html5lib

EXTERNAL = re.compile(r"""(?:\bsrc\s*=|<link\b|@import|url\(\s*['"]?(?!#|data:))""", re.I)


def check(path):
    problems = []
    data = open(path, "rb").read()
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    parser.parse(data)
    for (line, col), code, info in parser.errors:
        problems.append(f"{path}: {line}:{col}: parse error {code} {info or ''}".rstrip())
    text = data.decode("utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        m = EXTERNAL.search(line)
        if m:
            problems.append(f"{path}: {n}:{m.start() + 1}: loads something from elsewhere: {line[m.start():m.start() + 60]!r}")
    if not text.startswith("<!DOCTYPE html>"):
        problems.append(f"{path}: 1:1: does not start with <!DOCTYPE html>")
    return problems


def main():
    problems = [p for f in sys.argv[1:] for p in check(f)]
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
