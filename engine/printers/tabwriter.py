"""Column alignment that reproduces Go's text/tabwriter, which kubectl's output goes through."""

from __future__ import annotations

# kubectl get: printers.GetNewTabWriter (minwidth 6, padding 3).
GET_MINWIDTH, GET_PADDING = 6, 3
# kubectl describe: tabbedString (minwidth 0, padding 2).
DESCRIBE_MINWIDTH, DESCRIBE_PADDING = 0, 2


def tabwrite(text: str, *, minwidth: int, padding: int) -> str:
    """Align tab-terminated cells into columns exactly as Go's tabwriter does with ' ' padding.

    A column block is a run of consecutive lines that have a tab-terminated cell in that
    column; a line with fewer cells ends the block, so sections of describe output align
    independently. The text after a line's last tab is never padded.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[int] = []
    out: list[str] = []

    def write_lines(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            parts: list[str] = []
            for j, cell in enumerate(cells):
                parts.append(cell)
                if j < len(widths):
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(lines))
    return "\n".join(out)
