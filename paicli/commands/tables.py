"""Tables on stdout: a rich table on a terminal, plain aligned columns anywhere else.

Piped into ``cat``, a file or a farm log, a table is never cut to 80 columns nor wrapped:
every cell is printed whole, columns two spaces apart, so timecodes and paths stay
readable and greppable.
"""
from __future__ import annotations

import sys
from typing import Sequence


def print_table(title: str | None, head: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``rows`` under the column names ``head`` (cells as ``str``), after ``title``."""
    cells = [tuple(str(c) for c in r) for r in rows]
    if _isatty(sys.stdout):
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, title_justify="left")
        for h in head:
            table.add_column(h)
        for r in cells:
            table.add_row(*(Text(c) for c in r))  # cells are text, never markup (a path may hold [..])
        Console(file=sys.stdout).print(table)
        return
    if title:
        print(title)
    print(aligned([tuple(head), *cells]))


def aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows as left-aligned columns two spaces apart, each as wide as its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
