"""Figure builders shared by the digest (and, later, the dashboard).

Every function takes plain data (frames, series, records) and returns a
:class:`plotly.graph_objects.Figure`; none reads the store. Text that comes
from articles (headlines, sources) only ever goes into a figure as hover or
label *text*: it is HTML-escaped first, so plotly.js's pseudo-HTML labels
(``<b>``, ``<a href>``, ``<br>``) cannot be smuggled in through a headline and
the characters show as typed (plotly.js decodes the entities when it draws).
Plotly itself escapes ``<`` in the JSON it embeds in a page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

UP = "#1a7f37"
DOWN = "#cf222e"
LINE = "#0969da"
MUTED = "#8c959f"

#: Headlines longer than this are cut (with an ellipsis) in hover labels.
HOVER_MAX = 160


def safe_text(value: Any, limit: int = HOVER_MAX) -> str:
    """``value`` as plain text for a plotly label: cut to ``limit`` characters and HTML-escaped."""
    text = "" if value is None else " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=True)


def _layout(fig: go.Figure, title: str, *, y_title: str | None = None, height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": safe_text(title, 200), "x": 0.01, "xanchor": "left"},
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def _x_of(bars: pd.DataFrame) -> pd.Series:
    """The x axis of bars: the session label for daily bars, else the bar's time."""
    if "session" in bars and bars["session"].notna().all():
        return pd.to_datetime(bars["session"])
    return pd.to_datetime(bars["ts"], utc=True)


def _as_timestamp(value: Any, like_utc: bool) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if like_utc:
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if stamp.tzinfo is not None:  # a time against session labels: its UTC date
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def price_chart(
    bars: pd.DataFrame,
    symbol: str,
    *,
    benchmark_bars: pd.DataFrame | None = None,
    benchmark: str | None = None,
    markers: Iterable[tuple[date | datetime | pd.Timestamp, str]] = (),
    title: str | None = None,
) -> go.Figure:
    """Closes of ``symbol`` with the benchmark rebased to its first close and the news marked.

    ``bars``: columns ``close`` and ``session`` (daily) or ``ts`` (intraday), as
    :func:`monitor.store.repo.load_bars` returns them. ``benchmark_bars`` (same
    shape) is drawn as a second, dotted trace rebased so that both start at the
    symbol's first close. ``markers``: ``(session or time, headline)`` pairs;
    each becomes a point on the price line at (or just before) that time, with
    the headline in its hover label. Several headlines on one bar share it.
    """
    fig = go.Figure()
    frame = bars.dropna(subset=["close"]) if not bars.empty else bars
    if frame.empty:
        fig.add_annotation(text=f"no prices held for {safe_text(symbol)}", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
        return _layout(fig, title or symbol, y_title="Close")
    x = _x_of(frame)
    intraday = x.dt.tz is not None
    close = frame["close"].astype(float).to_numpy()
    fig.add_trace(go.Scatter(x=x, y=close, mode="lines", name=safe_text(symbol, 40),
                             line={"color": LINE, "width": 2},
                             hovertemplate="%{x|%Y-%m-%d}<br>close %{y:.2f}<extra></extra>"))
    if benchmark_bars is not None and not benchmark_bars.empty:
        bench = benchmark_bars.dropna(subset=["close"])
        if not bench.empty:
            bx = _x_of(bench)
            series = pd.Series(bench["close"].astype(float).to_numpy(), index=bx.to_numpy())
            series = series[series.index >= x.iloc[0].to_datetime64()] if not series.empty else series
            if not series.empty and series.iloc[0]:
                rebased = series / series.iloc[0] * close[0]
                name = f"{safe_text(benchmark or 'benchmark', 40)} (rebased)"
                fig.add_trace(go.Scatter(
                    x=rebased.index, y=rebased.to_numpy(), mode="lines", name=name,
                    line={"color": MUTED, "width": 1.5, "dash": "dot"},
                    hovertemplate="%{x|%Y-%m-%d}<br>" + name + " %{y:.2f}<extra></extra>",
                ))
    # News markers: one point per bar, the headlines joined in its label.
    points: dict[int, list[str]] = {}
    xs = x.to_numpy()
    for when, headline in markers:
        stamp = _as_timestamp(when, intraday).to_datetime64()
        i = int(xs.searchsorted(stamp, side="right")) - 1
        if i < 0:
            continue
        points.setdefault(i, []).append(safe_text(headline))
    if points:
        idx = sorted(points)
        fig.add_trace(go.Scatter(
            x=[xs[i] for i in idx], y=[close[i] for i in idx], mode="markers", name="news",
            marker={"symbol": "diamond", "size": 11, "color": "#bf8700", "line": {"width": 1, "color": "#000"}},
            hovertext=["<br>".join(points[i]) for i in idx], hoverinfo="text+x",
        ))
    return _layout(fig, title or symbol, y_title="Close")


def car_curve(ar_by_day: pd.Series | pd.DataFrame, title: str) -> go.Figure:
    """Cumulative abnormal return over relative days (index: day relative to the event).

    A series gives one curve; a frame one curve per column (e.g. one per
    event or ticker). Values are returns (0.01 = 1 %); the axis shows percent.
    """
    frame = ar_by_day.to_frame(name=ar_by_day.name or "CAR") if isinstance(ar_by_day, pd.Series) else ar_by_day
    fig = go.Figure()
    for column in frame.columns:
        ar = frame[column].astype(float).sort_index()
        car = ar.fillna(0.0).cumsum() * 100
        car[ar.isna()] = math.nan
        fig.add_trace(go.Scatter(
            x=[int(d) for d in ar.index], y=car.to_numpy(), mode="lines+markers", name=safe_text(column, 40),
            hovertemplate="day %{x:+d}<br>CAR %{y:.2f}%<extra>" + safe_text(column, 40) + "</extra>",
        ))
    fig.add_vline(x=0, line={"color": MUTED, "dash": "dash", "width": 1})
    fig.add_hline(y=0, line={"color": MUTED, "width": 1})
    fig.update_xaxes(title_text="Session relative to the event", dtick=1)
    return _layout(fig, title, y_title="CAR (%)")


def movers_bar(rows: Sequence[Mapping[str, Any]], title: str = "Day-0 abnormal returns") -> go.Figure:
    """Bars of day-0 abnormal returns by ticker, t statistic (and headline) in the hover.

    ``rows``: mappings with ``symbol``, ``abnormal_return`` (0.01 = 1 %),
    optionally ``t_stat`` and ``title``; rows without a return are skipped.
    """
    kept = [r for r in rows if r.get("abnormal_return") is not None and r["abnormal_return"] == r["abnormal_return"]]
    symbols = [safe_text(r["symbol"], 40) for r in kept]
    values = [float(r["abnormal_return"]) * 100 for r in kept]
    hover = []
    for r in kept:
        t = r.get("t_stat")
        line = f"{safe_text(r['symbol'], 40)}: {float(r['abnormal_return']) * 100:+.2f}%"
        line += "" if t is None or t != t else f" (t {float(t):+.2f})"
        if r.get("title"):
            line += "<br>" + safe_text(r["title"])
        hover.append(line)
    fig = go.Figure(go.Bar(
        x=symbols, y=values, marker_color=[UP if v >= 0 else DOWN for v in values],
        hovertext=hover, hoverinfo="text", text=[f"{v:+.2f}%" for v in values], textposition="outside",
    ))
    fig.add_hline(y=0, line={"color": MUTED, "width": 1})
    return _layout(fig, title, y_title="Abnormal return (%)", height=320)
