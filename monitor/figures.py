"""Figure builders shared by the digest and the dashboard.

Every function takes plain data (frames, series, records) and returns a
:class:`plotly.graph_objects.Figure`; none reads the store or computes
statistics (the caller does: the digest from stored results, the dashboard
from the impact engine). The digest uses :func:`price_chart`,
:func:`car_curve` and :func:`movers_bar`; the dashboard uses
:func:`ticker_chart` (candles or line, benchmark, news markers, abnormal
volume below), :func:`car_band` (CAR curves with their mean and a
confidence band) and :func:`caar_chart`. Text that comes
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

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

UP = "#1a7f37"
DOWN = "#cf222e"
LINE = "#0969da"
MUTED = "#8c959f"

#: Headlines longer than this are cut (with an ellipsis) in hover labels.
HOVER_MAX = 160


def safe_text(value: Any, limit: int = HOVER_MAX) -> str:
    """``value`` as plain text for a plotly label: cut to ``limit`` characters and HTML-escaped.

    Quotes become numeric entities (``&#34;``, ``&#39;``): plotly.js decodes
    those when it draws a label, but shows a named ``&quot;`` as typed.
    """
    text = "" if value is None else " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=False).replace('"', "&#34;").replace("'", "&#39;")


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


# Dashboard figures ------------------------------------------------------------
BAND = "rgba(9, 105, 218, 0.15)"
PATH = "rgba(87, 96, 106, 0.35)"
NEWS = "#bf8700"
#: Volume at least this many times its trailing average is drawn as abnormal.
ABNORMAL_VOLUME_RATIO = 2.0


def _marker_points(
    xs: np.ndarray, markers: Iterable[Sequence[Any]], tz: str | None
) -> dict[int, list[tuple[str, str | None]]]:
    """Bar position -> [(escaped headline, link)] for each marker at or before a bar.

    ``tz`` None: the x axis holds session labels (a time counts on its UTC
    date); else naive local times in ``tz`` (a date counts at its midnight).
    """
    points: dict[int, list[tuple[str, str | None]]] = {}
    for marker in markers:
        when, headline = marker[0], marker[1]
        link = marker[2] if len(marker) > 2 else None
        if tz is None:
            stamp = _as_timestamp(when, False).to_datetime64()
        else:
            moment = pd.Timestamp(when)
            if moment.tzinfo is not None:
                moment = moment.tz_convert(tz).tz_localize(None)
            stamp = moment.to_datetime64()
        i = int(xs.searchsorted(stamp, side="right")) - 1
        if i < 0:
            continue
        points.setdefault(i, []).append((safe_text(headline), link))
    return points


#: Headlines listed in one marker's hover label; more are counted.
MARKER_HEADLINES = 6


def _headlines(found: Sequence[tuple[str, str | None]]) -> str:
    """The hover label of one marker: its (escaped) headlines, at most :data:`MARKER_HEADLINES`."""
    shown = [h for h, _ in found[:MARKER_HEADLINES]]
    if len(found) > MARKER_HEADLINES:
        shown.append(f"… and {len(found) - MARKER_HEADLINES} more")
    return "<br>".join(shown)


def _gap_breaks(x: pd.Series, intraday: bool) -> list[dict[str, Any]]:
    """Plotly rangebreaks hiding weekends, holidays and (intraday) the hours without trading."""
    if x.empty:
        return []
    breaks: list[dict[str, Any]] = [{"bounds": ["sat", "mon"]}]
    if intraday:
        hours = x.dt.hour + x.dt.minute / 60
        first, last = float(hours.min()), float(hours.max())
        step = float(x.diff().median() / pd.Timedelta(hours=1)) if len(x) > 1 else 0.0
        step = min(max(step, 0.0), 1.0)
        if last + step - first < 23:
            breaks.append({"bounds": [last + step, first], "pattern": "hour"})
        days = pd.DatetimeIndex(x.dt.normalize().unique())
    else:
        days = pd.DatetimeIndex(x.unique())
    weekdays = pd.bdate_range(days.min(), days.max())
    missing_days = weekdays.difference(days)
    if len(missing_days):
        breaks.append({"values": [d.strftime("%Y-%m-%d") for d in missing_days]})
    return breaks


def ticker_chart(
    bars: pd.DataFrame,
    symbol: str,
    *,
    style: str = "candles",
    benchmark_bars: pd.DataFrame | None = None,
    benchmark: str | None = None,
    markers: Iterable[Sequence[Any]] = (),
    title: str | None = None,
    tz: str | None = None,
    volume_window: int = 20,
    hide_gaps: bool = True,
    initial_range: tuple[Any, Any] | None = None,
    range_buttons: bool = False,
) -> go.Figure:
    """Price of ``symbol`` (candles or a line) with the benchmark, news markers and abnormal volume below.

    ``bars``: columns ``open``, ``high``, ``low``, ``close``, ``volume``,
    ``session`` and ``ts``, as
    :func:`monitor.store.repo.load_bars` returns them: one bar per session
    is daily (the x axis is the session), several (or no session) intraday
    (the x axis is the bar's time in ``tz``, or UTC). ``benchmark_bars``
    (same shape) is drawn dotted, rebased to the symbol's first close.
    ``markers``: ``(session or time, headline[, link])``; each becomes a
    diamond above its bar (the bar at or before that time) with the
    headlines in the hover label and the first link in ``customdata`` (the
    dashboard opens it on click). The lower panel shows each bar's volume as
    a multiple of its trailing ``volume_window``-bar average (bars at least
    :data:`ABNORMAL_VOLUME_RATIO` times are highlighted). ``hide_gaps`` hides
    weekends, holidays and the hours without bars (not for 24/7 markets).
    ``initial_range``: the x range shown first (the data outside it is one
    zoom away); ``range_buttons``: 1M / 6M / 1Y / All buttons (daily bars).
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.72, 0.28])
    frame = bars.dropna(subset=["close"]) if not bars.empty else bars
    heading = title or symbol
    if frame.empty:
        fig.add_annotation(text=f"no prices held for {safe_text(symbol)}", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
        return _layout(fig, heading, height=520)
    # Intraday bars carry their session too: several bars to a session (or none) means the bar's time.
    sessions = frame["session"] if "session" in frame else None
    intraday = sessions is None or sessions.isna().any() or sessions.duplicated().any()
    x = pd.to_datetime(frame["ts"], utc=True) if intraday else pd.to_datetime(frame["session"])
    if intraday:
        x = x.dt.tz_convert(tz or "UTC").dt.tz_localize(None)
    x = x.reset_index(drop=True)
    close = frame["close"].astype(float).to_numpy()
    name = safe_text(symbol, 40)
    has_ohlc = all(c in frame for c in ("open", "high", "low")) and frame[["open", "high", "low"]].notna().all().all()
    date_fmt = "%Y-%m-%d %H:%M" if intraday else "%Y-%m-%d"
    if style == "candles" and has_ohlc:
        fig.add_trace(go.Candlestick(
            x=x, open=frame["open"].astype(float), high=frame["high"].astype(float),
            low=frame["low"].astype(float), close=close, name=name,
            increasing={"line": {"color": UP}}, decreasing={"line": {"color": DOWN}},
        ), row=1, col=1)
        top = frame["high"].astype(float).to_numpy()
    else:
        fig.add_trace(go.Scatter(x=x, y=close, mode="lines", name=name, line={"color": LINE, "width": 2},
                                 hovertemplate=f"%{{x|{date_fmt}}}<br>close %{{y:.2f}}<extra></extra>"),
                      row=1, col=1)
        top = close
    if benchmark_bars is not None and not benchmark_bars.empty:
        bench = benchmark_bars.dropna(subset=["close"])
        if not bench.empty:
            bx = pd.to_datetime(bench["ts"], utc=True) if intraday else _x_of(bench)
            if bx.dt.tz is not None:
                bx = bx.dt.tz_convert(tz or "UTC").dt.tz_localize(None)
            series = pd.Series(bench["close"].astype(float).to_numpy(), index=bx.to_numpy())
            series = series[series.index >= x.iloc[0].to_datetime64()]
            if not series.empty and series.iloc[0]:
                rebased = series / series.iloc[0] * close[0]
                bname = f"{safe_text(benchmark or 'benchmark', 40)} (rebased)"
                fig.add_trace(go.Scatter(
                    x=rebased.index, y=rebased.to_numpy(), mode="lines", name=bname,
                    line={"color": MUTED, "width": 1.5, "dash": "dot"},
                    hovertemplate=f"%{{x|{date_fmt}}}<br>{bname} %{{y:.2f}}<extra></extra>",
                ), row=1, col=1)
    xs = x.to_numpy()
    points = _marker_points(xs, markers, (tz or "UTC") if intraday else None)
    if points:
        idx = sorted(points)
        fig.add_trace(go.Scatter(
            x=[xs[i] for i in idx], y=[float(top[i]) * 1.015 for i in idx], mode="markers", name="news",
            marker={"symbol": "diamond", "size": 12, "color": NEWS, "line": {"width": 1, "color": "#000"}},
            hovertext=[_headlines(points[i]) for i in idx], hoverinfo="text+x",
            customdata=[next((link for _, link in points[i] if link), None) for i in idx],
        ), row=1, col=1)
    volume = frame["volume"].astype(float).to_numpy() if "volume" in frame else np.full(len(frame), np.nan)
    if np.isfinite(volume).any() and np.nansum(volume) > 0:
        vol = pd.Series(volume)
        average = vol.where(vol > 0).shift(1).rolling(volume_window, min_periods=max(2, volume_window // 4)).mean()
        ratio = (vol / average).to_numpy()
        colors = [NEWS if r >= ABNORMAL_VOLUME_RATIO else MUTED for r in np.nan_to_num(ratio)]
        hover = [f"volume {v:,.0f}" + ("" if not np.isfinite(r) else f"<br>{r:.1f}× the {volume_window}-bar average")
                 for v, r in zip(np.nan_to_num(volume), ratio)]
        fig.add_trace(go.Bar(x=x, y=np.where(np.isfinite(ratio), ratio, 0.0), name="volume ÷ average",
                             marker_color=colors, hovertext=hover, hoverinfo="text+x", showlegend=False),
                      row=2, col=1)
        fig.add_hline(y=1, line={"color": MUTED, "width": 1, "dash": "dot"}, row=2, col=1)
    else:
        fig.add_annotation(text="no volume held", showarrow=False, xref="x2 domain", yref="y2 domain", x=0.5, y=0.5)
    fig.update_xaxes(rangeslider_visible=False)
    if hide_gaps:
        fig.update_xaxes(rangebreaks=_gap_breaks(x, intraday))
    if initial_range is not None:
        fig.update_xaxes(range=list(initial_range))
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_yaxes(title_text="Volume ÷ avg", row=2, col=1)
    if intraday:
        fig.update_xaxes(title_text=f"Time ({safe_text(tz or 'UTC', 40)})", row=2, col=1)
    _layout(fig, heading, height=560)
    fig.update_layout(margin={"t": 86}, legend={"x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"})
    if range_buttons:
        fig.update_layout(xaxis={"rangeselector": {"buttons": [
            {"count": 1, "label": "1M", "step": "month", "stepmode": "backward"},
            {"count": 6, "label": "6M", "step": "month", "stepmode": "backward"},
            {"count": 1, "label": "1Y", "step": "year", "stepmode": "backward"},
            {"step": "all", "label": "All"},
        ], "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}})
    return fig


def car_band(
    paths: pd.DataFrame,
    title: str,
    *,
    mean: pd.Series | None = None,
    lower: pd.Series | None = None,
    upper: pd.Series | None = None,
    links: Sequence[str | None] | None = None,
    mean_name: str = "average CAR",
    band_name: str = "95% confidence band",
) -> go.Figure:
    """CAR curves over relative days, their average and a confidence band around it.

    ``paths``: index relative day (int), one column per event (its label),
    values cumulative abnormal returns (0.01 = 1 %), NaN where the day has no
    return. ``mean``, ``lower``, ``upper``: series on relative days (the
    caller computes them, e.g. the cross-sectional mean with a t interval).
    ``links``: one per column, carried as the curve's ``customdata`` (the
    dashboard opens it on click). Percent on the axis.
    """
    fig = go.Figure()
    columns = list(paths.columns)
    for k, column in enumerate(columns):
        car = paths[column].astype(float)
        label = safe_text(column, 60)
        link = links[k] if links is not None and k < len(links) else None
        fig.add_trace(go.Scatter(
            x=[int(d) for d in car.index], y=(car * 100).to_numpy(), mode="lines",
            name=label, legendgroup="events", showlegend=False,
            line={"color": PATH if mean is not None else LINE, "width": 1.2 if mean is not None else 2},
            customdata=[link] * len(car), connectgaps=False,
            hovertemplate="day %{x:+d}<br>CAR %{y:.2f}%<extra>" + label + "</extra>",
        ))
    if columns and mean is not None:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"events ({len(columns)})",
                                 line={"color": PATH, "width": 1.2}, legendgroup="events", hoverinfo="skip"))
    if lower is not None and upper is not None and (lower.notna() & upper.notna()).any():
        lo, hi = lower.astype(float), upper.astype(float)
        fig.add_trace(go.Scatter(x=[int(d) for d in hi.index], y=(hi * 100).to_numpy(), mode="lines",
                                 line={"width": 0}, hoverinfo="skip", showlegend=False, name="upper"))
        fig.add_trace(go.Scatter(x=[int(d) for d in lo.index], y=(lo * 100).to_numpy(), mode="lines",
                                 line={"width": 0}, fill="tonexty", fillcolor=BAND, name=safe_text(band_name, 60),
                                 hoverinfo="skip"))
    if mean is not None:
        m = mean.astype(float)
        fig.add_trace(go.Scatter(
            x=[int(d) for d in m.index], y=(m * 100).to_numpy(), mode="lines+markers",
            name=safe_text(mean_name, 60), line={"color": LINE, "width": 3},
            hovertemplate="day %{x:+d}<br>" + safe_text(mean_name, 60) + " %{y:.2f}%<extra></extra>",
        ))
    if not columns and mean is None:
        fig.add_annotation(text="no abnormal returns to show", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    fig.add_vline(x=0, line={"color": MUTED, "dash": "dash", "width": 1})
    fig.add_hline(y=0, line={"color": MUTED, "width": 1})
    fig.update_xaxes(title_text="Session relative to the event (day 0)", dtick=1)
    return _layout(fig, title, y_title="CAR (%)", height=380)


def caar_chart(
    caar: pd.Series, title: str, *, lower: pd.Series | None = None, upper: pd.Series | None = None,
    n_events: pd.Series | None = None,
) -> go.Figure:
    """The cumulative average abnormal return of a study over relative days, with its band.

    ``caar``, ``lower``, ``upper``: series on relative days (fractions);
    ``n_events``: events behind each day, shown in the hover label.
    """
    fig = car_band(pd.DataFrame(index=caar.index), title, mean=caar, lower=lower, upper=upper,
                   mean_name="CAAR")
    if n_events is not None and len(fig.data):
        counts = n_events.reindex(caar.index).fillna(0).astype(int).to_numpy()
        fig.data[-1].customdata = counts
        fig.data[-1].hovertemplate = "day %{x:+d}<br>CAAR %{y:.2f}%<br>%{customdata} events<extra></extra>"
    return fig
