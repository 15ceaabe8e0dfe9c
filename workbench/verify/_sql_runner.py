"""Runs inside the sandbox when there is no sqlite3 shell: reads SQL on standard input and prints
what `sqlite3 -batch :memory:` would in its default list mode (columns joined by '|', no header,
NULL as an empty string). Errors go to standard error and the script goes on, as the shell does.
"""

import sqlite3
import sys


def _text(value):
    """A value as the sqlite3 shell prints it."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.15g}"
        return text if any(c in text for c in ".eniN") else text + ".0"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _statements(script):
    """Complete statements, split at each ';' that ends one (not those inside strings or triggers)."""
    buf = ""
    for ch in script:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):
            yield buf
            buf = ""
    if buf.strip():
        yield buf


def main():
    """Run every statement from standard input against a fresh in-memory database."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    failed = False
    for statement in _statements(sys.stdin.read()):
        try:
            for row in con.execute(statement):
                print("|".join(_text(v) for v in row))
        except sqlite3.Warning:
            continue  # only comments or whitespace
        except sqlite3.Error as exc:
            failed = True
            print(f"Error: {exc}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
