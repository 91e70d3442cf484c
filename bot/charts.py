"""Bar charts as SVG, drawn on the server for the staff console's statistics page: no charting
library, no script, nothing fetched from elsewhere (the console runs offline). Labels are escaped;
the page shows the same figures as a table for screen readers."""

from collections.abc import Sequence
from xml.sax.saxutils import escape

BAR, GAP, LABEL_WIDTH, PLOT_WIDTH, MARGIN = 22, 6, 190, 420, 12
COLOUR, TEXT = "#00636e", "#111"



def _largest(figures: Sequence[tuple[str, int]]) -> int:
    return max((value for _, value in figures), default=0) or 1


def _length(value: int, largest: int, room: int) -> int:
    """A bar's length in pixels: to scale, and at least one pixel for any count above zero."""
    return max(1, round(room * value / largest)) if value else 0

def _svg(title: str, width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
            f'font-family="system-ui, sans-serif" font-size="13">'
            f'<title>{escape(title)}</title>'
            f'<text x="{MARGIN}" y="20" font-size="15" font-weight="bold" fill="{TEXT}">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def horizontal_bars(title: str, figures: Sequence[tuple[str, int]]) -> str:
    """One bar per label (topics, languages, channels), longest scale at the largest figure."""
    top = 34
    height = top + max(len(figures), 1) * (BAR + GAP) + MARGIN
    width = MARGIN + LABEL_WIDTH + PLOT_WIDTH + 60
    largest = _largest(figures)
    body = [] if figures else [f'<text x="{MARGIN}" y="{top + BAR - 6}" fill="{TEXT}">(no figures)</text>']
    for row, (label, value) in enumerate(figures):
        y = top + row * (BAR + GAP)
        length = _length(value, largest, PLOT_WIDTH)
        body.append(f'<text x="{MARGIN + LABEL_WIDTH - 8}" y="{y + BAR - 6}" text-anchor="end" fill="{TEXT}">'
                    f'{escape(label[:28])}</text>'
                    f'<rect x="{MARGIN + LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR}" fill="{COLOUR}"/>'
                    f'<text x="{MARGIN + LABEL_WIDTH + length + 6}" y="{y + BAR - 6}" fill="{TEXT}">{value}</text>')
    return _svg(title, width, height, body)


def weekly_columns(title: str, figures: Sequence[tuple[str, int]]) -> str:
    """One column per ISO week, oldest first, labelled with the week ("W49") under it."""
    plot_height, top, column = 180, 40, 34
    width = max(2 * MARGIN + len(figures) * (column + GAP), 320)
    height = top + plot_height + 40
    largest = _largest(figures)
    base = top + plot_height
    body = [f'<line x1="{MARGIN}" y1="{base}" x2="{width - MARGIN}" y2="{base}" stroke="#767676"/>']
    if not figures:
        body.append(f'<text x="{MARGIN}" y="{top + 20}" fill="{TEXT}">(no figures)</text>')
    for index, (week, value) in enumerate(figures):
        x = MARGIN + index * (column + GAP)
        length = _length(value, largest, plot_height)
        body.append(f'<rect x="{x}" y="{base - length}" width="{column}" height="{length}" fill="{COLOUR}"/>'
                    f'<text x="{x + column / 2}" y="{base - length - 4}" text-anchor="middle" fill="{TEXT}">{value}</text>'
                    f'<text x="{x + column / 2}" y="{base + 16}" text-anchor="middle" fill="{TEXT}">'
                    f'{escape(week[-3:])}</text>'
                    f'<text x="{x + column / 2}" y="{base + 31}" text-anchor="middle" fill="#555" font-size="10">'
                    f'{escape(week[:4])}</text>')
    return _svg(title, width, height, body)
