"""SVG plots for the dashboard page, one function per plot.

Each plot function takes the rows of its named query (``Result.as_dicts()``)
and returns ``(svg, points)``: an inline ``<svg>`` element and the number of
data marks drawn in it, each an element with class ``mark``. Empty input (or
no row with a value to draw) returns ``("", 0)``; the page shows that as a
plot without data. Text from rows is escaped; time labels are UTC. Window
times are ISO-8601 strings as the queries return them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

_W, _H = 900, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 150, 16, 34
_PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b")


def _ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def _label_time(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


class _Frame:
    """Maps data to SVG coordinates inside the plot margins."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, height: int = _H):
        self.x0, self.x1 = x0, (x1 if x1 > x0 else x0 + 1)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1)
        self.height = height

    def x(self, value: float) -> float:
        span = _W - _LEFT - _RIGHT
        return _LEFT + (value - self.x0) / (self.x1 - self.x0) * span

    def y(self, value: float) -> float:
        span = self.height - _TOP - _BOTTOM
        return self.height - _BOTTOM - (value - self.y0) / (self.y1 - self.y0) * span

    def axes(self, y_label: str, time_axis: bool = True) -> list[str]:
        bottom = self.height - _BOTTOM
        parts = [
            f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{_W - _RIGHT}" '
            f'y2="{bottom}"/>',
            f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>',
            f'<text x="4" y="{_TOP + 10}" class="lbl">{html.escape(y_label)}</text>',
        ]
        for i in range(5):
            value = self.y0 + (self.y1 - self.y0) * i / 4
            parts.append(
                f'<text x="{_LEFT - 6}" y="{self.y(value) + 4:.1f}" class="tick" '
                f'text-anchor="end">{value:.3g}</text>'
            )
            if time_axis:
                t = self.x0 + (self.x1 - self.x0) * i / 4
                parts.append(
                    f'<text x="{self.x(t):.1f}" y="{bottom + 16}" class="tick" '
                    f'text-anchor="middle">{_label_time(t)}</text>'
                )
        return parts


def _svg(parts: Sequence[str], height: int = _H) -> str:
    return (
        f'<svg viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" '
        f'role="img">{"".join(parts)}</svg>'
    )


def _legend(labels: Sequence[str], top: int = _TOP) -> list[str]:
    parts = []
    for i, label in enumerate(labels):
        y = top + 14 * i + 8
        color = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f'<rect x="{_W - _RIGHT + 10}" y="{y - 8}" width="10" height="10" '
            f'fill="{color}"/><text x="{_W - _RIGHT + 24}" y="{y + 1}" '
            f'class="lbl">{html.escape(label)}</text>'
        )
    return parts


def _text(x: float, y: float, cls: str, text: str, anchor: str = "") -> str:
    """An SVG text element; ``text`` is escaped."""
    align = f' text-anchor="{anchor}"' if anchor else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}"{align}>{html.escape(text)}</text>'
    )


def _series_key(row: Mapping[str, Any]) -> str:
    return f"{row['model']}/{row['version']}"


def latency(rows: list[dict], rollbacks: list[dict]) -> tuple[str, int]:
    points = [r for r in rows if r["p99_ms"] is not None]
    if not points:
        return "", 0
    times = [_ms(r["window_start"]) for r in points]
    top = max(max(r["p99_ms"] for r in points), 1.0) * 1.1
    frame = _Frame(min(times), max(times), 0, top)
    parts = frame.axes("ms")
    series = sorted({_series_key(r) for r in points})
    marks = 0
    for i, key in enumerate(series):
        color = _PALETTE[i % len(_PALETTE)]
        mine = sorted(
            (r for r in points if _series_key(r) == key),
            key=lambda r: r["window_start"],
        )
        for field, dash in (("p99_ms", ""), ("p50_ms", ' stroke-dasharray="4 3"')):
            path = " ".join(
                f"{frame.x(_ms(r['window_start'])):.1f},{frame.y(r[field] or 0):.1f}"
                for r in mine
            )
            parts.append(
                f'<polyline fill="none" stroke="{color}"{dash} points="{path}"/>'
            )
        for r in mine:
            marks += 1
            parts.append(
                f'<circle class="mark" cx="{frame.x(_ms(r["window_start"])):.1f}" '
                f'cy="{frame.y(r["p99_ms"]):.1f}" r="2.5" fill="{color}"><title>'
                f"{html.escape(key)} {r['window_start']} p99 {r['p99_ms']:.1f} ms"
                "</title></circle>"
            )
    for event in {r["event_id"]: r for r in rollbacks}.values():
        x = frame.x(min(max(_ms(event["decided_window_end"]), frame.x0), frame.x1))
        parts.append(
            f'<line class="rollback" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" '
            f'y2="{_H - _BOTTOM}"><title>rollback {html.escape(event["from_version"])}'
            f" → {html.escape(event['to_version'])}</title></line>"
        )
    parts += _legend(series)
    return _svg(parts), marks


def shards(rows: list[dict]) -> tuple[str, int]:
    rows = [r for r in rows if r["max_ratio"] is not None]
    if not rows:
        return "", 0
    height = _TOP + _BOTTOM + 18 * len(rows)
    top = max(max(r["max_ratio"] for r in rows), 1.6) * 1.05
    parts = []
    span = _W - _LEFT - _RIGHT - 80
    for i, r in enumerate(rows):
        y = _TOP + 18 * i
        width = r["max_ratio"] / top * span
        color = "#c53030" if r["outlying_windows"] else "#718096"
        label = f"{r['version']} {r['shard']}"
        parts.append(
            f'<text x="{_LEFT + 76}" y="{y + 12}" class="lbl" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<rect class="mark" x="{_LEFT + 80}" y="{y + 2}" width="{width:.1f}" '
            f'height="13" fill="{color}"><title>{html.escape(label)}: max '
            f"{r['max_ratio']}, median {r['median_ratio']}, outlying windows "
            f"{r['outlying_windows']} of {r['windows']}</title></rect>"
            f'<text x="{_LEFT + 84 + width:.1f}" y="{y + 12}" class="tick">'
            f"{r['max_ratio']:.2f}</text>"
        )
    x1 = _LEFT + 80 + 1.0 / top * span
    parts.append(
        f'<line class="axis" x1="{x1:.1f}" y1="{_TOP}" x2="{x1:.1f}" '
        f'y2="{height - _BOTTOM}"/>'
    )
    parts.append(_text(x1, height - _BOTTOM + 14, "tick", "1.0 = median"))
    return _svg(parts, height), len(rows)


def drift(rows: list[dict]) -> tuple[str, int]:
    if not rows:
        return "", 0
    lanes = sorted(
        {(r["model"], r["version"], r["comparison"], r["feature"]) for r in rows}
    )
    windows = sorted({r["window_start"] for r in rows})
    cell_h = 12
    height = _TOP + _BOTTOM + cell_h * len(lanes)
    left = 230
    cell_w = max((_W - left - 20) / len(windows), 1.0)
    lane_of = {lane: i for i, lane in enumerate(lanes)}
    column_of = {w: i for i, w in enumerate(windows)}
    parts = []
    for lane, i in lane_of.items():
        parts.append(
            f'<text x="{left - 4}" y="{_TOP + cell_h * i + 9}" class="tick" '
            f'text-anchor="end">{html.escape(" ".join(lane[1:]))}</text>'
        )
    for r in rows:
        i = lane_of[(r["model"], r["version"], r["comparison"], r["feature"])]
        x = left + column_of[r["window_start"]] * cell_w
        score = r["score"] if r["score"] is not None else 0.0
        outline = (
            ' stroke="#1a202c" stroke-width="1.5"' if r["drifted_corrected"] else ""
        )
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{_TOP + cell_h * i}" '
            f'width="{cell_w:.1f}" height="{cell_h - 1}" '
            f'fill="{_heat(score)}"{outline}>'
            f"<title>{html.escape(r['feature'])} {r['window_start']} {r['method']} "
            f"{r['statistic']:.4f} / {r['critical_value']:.4f}, p={r['p_value']:.3g}"
            "</title></rect>"
        )
    bottom = height - _BOTTOM
    for w in (windows[0], windows[-1]):
        x = left + column_of[w] * cell_w
        parts.append(_text(x, bottom + 16, "tick", _label_time(_ms(w))))
    return _svg(parts, height), len(rows)


def _heat(score: float) -> str:
    """Green below the drift line, yellow at it, red at twice it."""
    s = max(0.0, min(score, 2.0)) / 2.0
    if s < 0.5:
        r, g = int(56 + s * 2 * 180), 161
    else:
        r, g = 236, int(201 - (s - 0.5) * 2 * 150)
    return f"rgb({r},{g},{60})"


def rollbacks(rows: list[dict]) -> tuple[str, int]:
    events = list({r["event_id"]: r for r in rows}.values())
    if not events:
        return "", 0
    evidence: dict[str, list[str]] = {}
    for r in rows:
        if r["evidence_signal"]:
            where = r["evidence_shard"] or r["evidence_feature"] or ""
            evidence.setdefault(r["event_id"], []).append(
                f"{r['evidence_signal']} {where} value {r['evidence_value']:.3g} "
                f"(threshold {r['evidence_threshold']:.3g})"
            )
    models = sorted({e["model"] for e in events})
    times = [_ms(e["decided_window_end"]) for e in events]
    times += [_ms(e["first_breach_window_start"]) for e in events]
    height = _TOP + _BOTTOM + 30 * len(models) + 10
    frame = _Frame(min(times) - 5000, max(times) + 5000, 0, 1, height)
    parts = frame.axes("", time_axis=True)[:2]
    bottom = height - _BOTTOM
    for t in (frame.x0, frame.x1):
        parts.append(_text(frame.x(t), bottom + 16, "tick", _label_time(t), "middle"))
    for e in events:
        y = _TOP + 30 * models.index(e["model"]) + 15
        x0, x1 = (
            frame.x(_ms(e["first_breach_window_start"])),
            frame.x(_ms(e["decided_window_end"])),
        )
        tip = html.escape(
            f"{e['model']}: {e['from_version']} → {e['to_version']} at "
            f"{e['decided_window_end']}: {e['reason']}; "
            + "; ".join(evidence.get(e["event_id"], []))
        )
        parts.append(
            f'<line x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" '
            'stroke="#c53030" stroke-width="3"/>'
            f'<circle class="mark" cx="{x1:.1f}" cy="{y}" r="6" fill="#c53030">'
            f"<title>{tip}</title></circle>"
            f'<text x="{x1 + 9:.1f}" y="{y + 4}" class="lbl">{html.escape(e["model"])} '
            f"{html.escape(e['from_version'])} → {html.escape(e['to_version'])}</text>"
        )
    return _svg(parts, height), len(events)


def versions(rows: list[dict]) -> tuple[str, int]:
    if not rows:
        return "", 0
    windows = sorted({r["window_start"] for r in rows})
    series = sorted({_series_key(r) for r in rows})
    frame = _Frame(_ms(windows[0]), _ms(windows[-1]), 0, 1)
    bar_w = max((_W - _LEFT - _RIGHT) / len(windows) - 1, 1.0)
    parts = frame.axes("share")
    stacked: dict[str, float] = {}
    for r in sorted(rows, key=lambda r: (r["window_start"], _series_key(r))):
        share = r["traffic_share"] or 0.0
        base = stacked.get(r["window_start"], 0.0)
        stacked[r["window_start"]] = base + share
        color = _PALETTE[series.index(_series_key(r)) % len(_PALETTE)]
        x = frame.x(_ms(r["window_start"])) - bar_w / 2
        y_top, y_base = frame.y(min(base + share, 1.0)), frame.y(min(base, 1.0))
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" '
            f'height="{max(y_base - y_top, 0.5):.1f}" fill="{color}"><title>'
            f"{html.escape(_series_key(r))} {r['window_start']}: {share:.1%} of "
            f"traffic on {r['replicas']} replicas</title></rect>"
        )
    parts += _legend(series)
    return _svg(parts), len(rows)


def dead_letters(rows: list[dict]) -> tuple[str, int]:
    if not rows:
        return "", 0
    height = _TOP + _BOTTOM + 20 * len(rows)
    top = max(r["letters"] for r in rows)
    span = _W - 360 - 60
    parts = []
    for i, r in enumerate(rows):
        y = _TOP + 20 * i
        width = max(r["letters"] / top * span, 1.0)
        label = f"{r['reason']} ({r['source_topic']})"
        parts.append(
            _text(356, y + 13, "lbl", label, "end")
            + f'<rect class="mark" x="360" y="{y + 3}" width="{width:.1f}" '
            f'height="14" fill="#975a16"><title>'
            f"{html.escape(str(r['example_detail']))}</title></rect>"
            + _text(364 + width, y + 13, "tick", str(r["letters"]))
        )
    return _svg(parts, height), len(rows)
