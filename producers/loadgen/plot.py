"""Latency over time: one dot per request (when its reply was seen, how long it took).

``.png`` draws with matplotlib (imported only then); ``.html`` writes one self-contained
file with an inline SVG and no script or external asset, so it opens anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from producers.loadgen.report import SUCCEEDED, RequestRecord, Summary

#: More dots than this are thinned evenly (a 100k-request run would make a heavy file).
MAX_POINTS: Final = 20_000
COLOURS: Final = ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f")


def _points(records: Sequence[RequestRecord]) -> dict[str, list[tuple[float, float]]]:
    answered = [r for r in records if r.latency is not None and r.kind == "good"]
    step = max(1, len(answered) // MAX_POINTS)
    series: dict[str, list[tuple[float, float]]] = {}
    for r in answered[::step]:
        assert r.latency is not None
        assert r.outcome is not None
        label = f"{r.action} {r.outcome.lower() if r.outcome == SUCCEEDED else r.outcome}"
        assert r.finished is not None
        series.setdefault(label, []).append((r.finished, r.latency * 1000))
    return dict(sorted(series.items()))


def _title(summary: Summary) -> str:
    lat = next(iter(summary.latency.values()), None)
    tail = f" · p50 {lat.p50_ms} ms · p99 {lat.p99_ms} ms" if lat and lat.count else ""
    return (
        f"{summary.target} · {summary.pacing} · {summary.requests} requests · "
        f"{summary.wall_s:g} s{tail}"
    )


def write_plot(path: Path, records: Sequence[RequestRecord], summary: Summary) -> Path:
    """Write the plot; the format follows the suffix (.png or .html)."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        _png(path, records, summary)
    elif suffix in {".html", ".htm"}:
        path.write_text(render_html(records, summary), encoding="utf-8")
    else:
        raise ValueError(f"plot {path}: the name must end in .png or .html")
    return path


def _png(path: Path, records: Sequence[RequestRecord], summary: Summary) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("a .png plot needs matplotlib; write .html instead") from exc
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    for (label, pts), colour in zip(_points(records).items(), COLOURS * 4, strict=False):
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=6, alpha=0.6, label=label, c=colour)
    line = summary.timeline
    if line:
        ax.plot([b["t_s"] for b in line], [b["p99_ms"] for b in line], "k-", lw=1, label="p99/s")
    ax.set_xlabel("reply seen (s into the run)")
    ax.set_ylabel("end-to-end latency (ms)")
    ax.set_title(_title(summary), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render_html(records: Sequence[RequestRecord], summary: Summary) -> str:
    """A self-contained page: title, an SVG scatter with axes, and the summary as JSON."""
    width, height, pad = 960, 420, 50
    series = _points(records)
    xs = [x for pts in series.values() for x, _ in pts] or [0.0]
    ys = [y for pts in series.values() for _, y in pts] or [0.0]
    x_max = max(max(xs), 1e-3)
    y_max = max(max(ys), 1e-3) * 1.05

    def sx(x: float) -> float:
        return pad + x / x_max * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - y / y_max * (height - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="black"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
    ]
    for i in range(6):
        xv, yv = x_max * i / 5, y_max * i / 5
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{height - pad + 15}" text-anchor="middle">{xv:.1f}</text>'
        )
        parts.append(f'<text x="{pad - 5}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.0f}</text>')
    parts.append(
        f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">'
        "reply seen (s into the run)</text>"
    )
    parts.append(
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
        'text-anchor="middle">end-to-end latency (ms)</text>'
    )
    for n, ((label, pts), colour) in enumerate(zip(series.items(), COLOURS * 4, strict=False)):
        dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.6"/>' for x, y in pts)
        parts.append(f'<g fill="{colour}" fill-opacity="0.6">{dots}</g>')
        parts.append(
            f'<text x="{pad + 10}" y="{pad + 14 * n}" fill="{colour}">{html.escape(label)}</text>'
        )
    line = summary.timeline
    if line:
        path = " ".join(f"{sx(b['t_s']):.1f},{sy(b['p99_ms']):.1f}" for b in line)
        parts.append(f'<polyline points="{path}" fill="none" stroke="black" stroke-width="1"/>')
    parts.append("</svg>")
    title = html.escape(_title(summary))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}</title></head><body>\n<h1 style="font:16px sans-serif">{title}</h1>\n'
        + "".join(parts)
        + '\n<p style="font:12px sans-serif">black line: p99 of the replies seen in each '
        "second</p>\n<pre>"
        + html.escape(summary.model_dump_json(indent=2, exclude={"timeline"}))
        + "</pre>\n</body></html>\n"
    )
