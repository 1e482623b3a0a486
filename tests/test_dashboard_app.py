"""The dashboard without a browser: the real `monitor dashboard` command, /healthz, routing and not-found
pages, the safety rules on stored text, the highlighter, the figure builders and the CAR paths.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashboard_browser import DEMO_ARTICLE, ROOT, build_demo_store, headless_env
from dashboards import analysis, queries, ui
from dashboards.app import create_app, render_page
from dashboards.event import highlight, place_spans
from dashboards.overview import OverviewState
from monitor import figures
from monitor.config import load_settings

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - Settings
    return build_demo_store(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def ctx(demo):  # noqa: ANN001, ANN201 - AppContext
    app = create_app(demo)
    context = app.server.config["dashboard_context"]
    yield context
    context.engine.dispose()


def text_of(component: Any) -> str:
    """Every string in a component tree (what the browser would show, and attributes)."""
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


# The command and the health route ---------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_monitor_dashboard_command_serves_the_app_and_its_health(demo, tmp_path: Path) -> None:  # noqa: ANN001
    port = _free_port()
    script = Path(sys.executable).with_name("monitor")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]
    env = headless_env() | {"MONITOR_DATABASE_URL": demo.database_url, "MONITOR_SEEDS_DIR": str(demo.seeds_dir)}
    proc = subprocess.Popen([*command, "dashboard", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.poll() is not None else ""
                    pytest.fail(f"monitor dashboard did not start: {out}")
                time.sleep(0.2)
        assert status == 200 and json.loads(body) == {"ok": True}
        status, body = _get(base + "/")
        assert status == 200 and b"<title>Market-impact monitor</title>" in body
        status, body = _get(base + "/ticker/GEO")  # every view is the same page; the router draws it
        assert status == 200 and b"dash_renderer" in body
        status, body = _get(base + "/_dash-layout")
        assert status == 200 and b'"url"' in body
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert f"dashboard on http://127.0.0.1:{port}/".encode() in out


def test_healthz_answers_503_with_the_reason_when_the_store_is_down() -> None:
    settings = load_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    app = create_app(settings)  # the database is not contacted to build the app
    response = app.server.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["reason"].startswith("the store does not answer SELECT 1:")
    title, page = render_page(app.server.config["dashboard_context"], "/", "")
    assert title == "Store unavailable" and "The store cannot be read" in text_of(page)
    assert "MONITOR_DATABASE_URL" in text_of(page)


# Routing and pages -----------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "search", "title", "shown"), [
    ("/", "", "Overview", ["El Salvador", "GEO", "CXW", "BTC-USD", "-9.36%", "No alerts raised yet"]),
    ("/", "?ticker=GEO&sort=ar&dir=asc&page=7&min_rel=abc", "Overview", ['"1–1"', "-9.36%", "GEO"]),
    ("/ticker/GEO", "", "GEO", ["GEO Group", "benchmark SPY", "1d: 2024-02-02 to 2025-02-11"]),
    ("/ticker/geo", "?style=line", "GEO", ["GEO Group"]),
    ("/ticker/BTC-USD", "", "BTC-USD", ["no benchmark", "insufficient history: 49 estimation returns"]),
    (f"/event/{DEMO_ARTICLE}/CXW", "", "CXW: El Salvador", ["CoreCivic, Inc. CXW", "name_ticker", "-6.75%"]),
    (f"/event/{DEMO_ARTICLE}/btc-usd", "", "BTC-USD: El Salvador", ["insufficient history", "Bitcoin BTC/USD"]),
    ("/study", "?theme=private+prisons&window=0:0", "Event study", ["CAAR cross-sectional t", "[0,0]"]),
    ("/study", "?ticker=NOPE", "Event study", ["No events match this selection"]),
    ("/ticker/NOPE", "", "Ticker not found", ["Ticker NOPE was not found", "Back to the overview"]),
    (f"/event/{DEMO_ARTICLE}/NOPE", "", "Event not found", ["was not found"]),
    ("/event/not-a-key", "", "Page not found", ["does not match a view"]),
    ("/wp-admin/setup.php", "", "Page not found", ["Page /wp-admin/setup.php was not found"]),
])
def test_every_view_renders_from_its_url(ctx, path: str, search: str, title: str, shown: list[str]) -> None:  # noqa: ANN001
    got_title, page = render_page(ctx, path, search)
    assert got_title.startswith(title)
    text = text_of(page)
    for piece in shown:
        assert piece in text, piece


def test_overview_state_reads_junk_urls_as_defaults() -> None:
    state = OverviewState.from_query(ui.parse_query(
        "?min_rel=abc&min_move=-3&page=-2&size=0&sort=evil&dir=sideways&from=2025-13-01&ticker=GEO"))
    assert state == OverviewState(ticker="GEO", size=1)
    assert ui.query_string(OverviewState(ticker="GEO", min_rel=50.0, sort="ar", desc=False, page=2).query()) == (
        "?ticker=GEO&min_rel=50&sort=ar&dir=asc&page=2")
    assert OverviewState.from_query(ui.parse_query("?ticker=GEO&min_rel=50&sort=ar&dir=asc&page=2")) == OverviewState(
        ticker="GEO", min_rel=50.0, sort="ar", desc=False, page=2)


# Stored text is never markup ------------------------------------------------------------------
FORBIDDEN = [
    "dangerously_allow_html", "dangerouslySetInnerHTML", "DangerouslySetInnerHTML", "dcc.Markdown", "Markdown(",
    "srcDoc", "Iframe", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", '"presentation"',
    "html=True", "eval(",
]


def test_the_dashboard_source_never_renders_raw_html() -> None:
    files = sorted((ROOT / "dashboards").rglob("*.py")) + sorted((ROOT / "dashboards").rglob("*.js"))
    assert files, "dashboards/ not found"
    found = [f"{path.relative_to(ROOT)}: {token}" for path in files for token in FORBIDDEN
             if token in path.read_text(encoding="utf-8")]
    assert found == []
    # Links from stored URLs go through one function that allows http(s) only.
    anchors = [path.name for path in files if "html.A(" in path.read_text(encoding="utf-8")]
    assert anchors == ["ui.py"]
    assets = {p.suffix for p in (ROOT / "dashboards" / "assets").iterdir()}
    assert assets <= {".css"}, f"only CSS in dashboards/assets (Dash runs any .js there): {assets}"


@pytest.mark.parametrize(("url", "is_link"), [
    ("https://www.example.com/a?b=1", True), ("http://example.com", True), ("javascript:alert(1)", False),
    (" JavaScript:alert(1)", False), ("data:text/html,<script>alert(1)</script>", False),
    ("vbscript:msgbox", False), ("//evil.example.com", False), ("not a url", False),
])
def test_only_http_links_become_anchors(url: str, is_link: bool) -> None:
    out = ui.external_link(url).to_plotly_json()
    assert (out["type"] == "A") == is_link
    if is_link:
        assert out["props"]["href"] == url.strip() and out["props"]["rel"].startswith("noopener")
    else:
        assert "href" not in out["props"] and url in text_of(out)


def test_highlight_splits_the_text_into_strings_and_marks() -> None:
    title = "Acme (ACME) and " + EVIL
    body = "Acme Corp ACME rose; Acme again."
    text = title + "\n\n" + body
    spans = [
        {"symbol": "ACME", "start": 6, "end": 10, "matched": "ACME", "method": "paren_ticker", "relevance": 88.0},
        {"symbol": "ACME", "start": text.index("Acme Corp"), "end": text.index("Acme Corp") + 14,
         "matched": "Acme Corp ACME", "method": "name_ticker", "relevance": 88.0},
        {"symbol": "ACMX", "start": text.index("Acme Corp"), "end": text.index("Acme Corp") + 9,
         "matched": "Acme Corp", "method": "name", "relevance": 20.0},          # overlaps the one above
        {"symbol": "ACME", "start": 500, "end": 510, "matched": "Acme again", "method": "name", "relevance": 88.0},
        {"symbol": "ACME", "start": 0, "end": 5, "matched": "nowhere", "method": "name", "relevance": 88.0},
    ]
    placed, unplaced = place_spans(text, spans)
    assert [m["matched"] for m in unplaced] == ["nowhere"]
    assert placed[3]["start"] == text.index("Acme again")  # a stale offset found again by its text
    head = highlight(title, placed, "ACME", 0)
    assert head[0] == "Acme (" and head[2] == ") and " + EVIL  # the payload stays a plain string
    mark = head[1].to_plotly_json()
    assert mark["type"] == "Mark" and mark["props"]["children"] == "ACME"
    assert mark["props"]["title"] == "ACME: rule paren_ticker (ticker in brackets), relevance 88"
    pieces = highlight(body, placed, "ACME", len(title) + 2)
    marks = [p.to_plotly_json()["props"] for p in pieces if not isinstance(p, str)]
    assert [m["children"] for m in marks] == ["Acme Corp", " ACME", "Acme again"]
    assert marks[0]["data-symbol"] == "ACME ACMX" and "ACMX: rule name" in marks[0]["title"]
    assert "".join(p if isinstance(p, str) else p.children for p in pieces) == body
    assert highlight("plain", [], "X") == ["plain"]


# Figures ----------------------------------------------------------------------------------------
def _bars(n: int = 30, start: str = "2025-01-02") -> pd.DataFrame:
    sessions = pd.bdate_range(start, periods=n)
    close = pd.Series(range(n), dtype=float) + 10
    return pd.DataFrame({"session": sessions, "ts": sessions.tz_localize("UTC"), "open": close - 0.2,
                         "high": close + 0.5, "low": close - 0.5, "close": close,
                         "volume": [1000.0] * (n - 1) + [5000.0]})


def test_ticker_chart_draws_candles_benchmark_markers_and_abnormal_volume() -> None:
    bars = _bars()
    bench = bars.assign(close=bars["close"] * 10)
    fig = figures.ticker_chart(bars, "GEO", benchmark_bars=bench, benchmark="SPY", range_buttons=True,
                               markers=[(date(2025, 1, 6), EVIL, "/event/k/GEO"), (date(2025, 1, 6), "second"),
                                        (date(2024, 1, 1), "before the data")])
    names = [t.name for t in fig.data]
    assert names[:3] == ["GEO", "SPY (rebased)", "news"] and fig.data[0].type == "candlestick"
    news = fig.data[2]
    assert list(news.hovertext) == ["&lt;img src=x onerror=alert(1)&gt;<br>second"]
    assert list(news.customdata) == ["/event/k/GEO"] and str(news.x[0])[:10] == "2025-01-06"
    volume = fig.data[3]
    assert volume.type == "bar" and volume.marker.color[-1] == figures.NEWS  # 5x its 20-bar average
    assert math.isclose(volume.y[-1], 5.0)
    assert fig.layout.xaxis.rangebreaks[0].bounds == ("sat", "mon")
    assert EVIL not in fig.to_json().replace("\\u003c", "<").replace("\\u003e", ">")
    line = figures.ticker_chart(bars.drop(columns=["volume"]), "GEO", style="line")
    assert line.data[0].type == "scatter" and any("no volume" in a.text for a in line.layout.annotations)
    empty = figures.ticker_chart(bars.iloc[0:0], "NONE")
    assert any("no prices" in a.text for a in empty.layout.annotations)


def test_ticker_chart_intraday_shows_local_times_and_places_timed_news() -> None:
    ts = pd.date_range("2025-02-04 14:30", periods=12, freq="5min", tz="UTC")
    bars = pd.DataFrame({"ts": ts, "session": [pd.NaT] * 12, "open": 1.0, "high": 1.1, "low": 0.9,
                         "close": 1.0, "volume": 10.0})
    fig = figures.ticker_chart(bars, "CXW", tz="America/New_York",
                               markers=[(datetime(2025, 2, 4, 14, 52, tzinfo=timezone.utc), "story")])
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2025-02-04 09:30")  # 14:30 UTC is 09:30 in New York
    news = next(t for t in fig.data if t.name == "news")
    assert pd.Timestamp(news.x[0]) == pd.Timestamp("2025-02-04 09:50")  # the bar at or before 09:52
    assert fig.layout.xaxis2.title.text == "Time (America/New_York)"


def test_car_band_and_caar_chart() -> None:
    days = list(range(-2, 3))
    paths = pd.DataFrame({"GEO 2025-02-04": [0.0, 0.01, -0.02, -0.03, None], EVIL: [0.0, 0.0, 0.01, 0.02, 0.02]},
                         index=days)
    band = analysis.mean_band(paths.T)  # events as rows, relative days as columns
    fig = figures.car_band(paths, "t", mean=band.mean, lower=band.lower, upper=band.upper, links=["/event/a/G", None])
    names = [t.name for t in fig.data]
    assert names[1] == "&lt;img src=x onerror=alert(1)&gt;" and "events (2)" in names
    assert "95% confidence band" in names and names[-1] == "average CAR"
    assert list(fig.data[0].customdata)[0] == "/event/a/G"
    assert [round(v, 6) for v in fig.data[-1].y[:4]] == [0.0, 0.5, -0.5, -0.5]
    caar = figures.caar_chart(band.mean, "CAAR", lower=band.lower, upper=band.upper, n_events=band.n)
    assert list(caar.data[-1].customdata) == [2, 2, 2, 2, 1] and caar.data[-1].name == "CAAR"
    single = figures.car_band(paths.iloc[:, :1], "one")
    assert len(single.data) == 1 and single.data[0].line.color == figures.LINE


def test_mean_band_is_the_cross_sectional_t_interval() -> None:
    car = pd.DataFrame([[0.01, 0.02, None], [0.03, 0.06, None], [0.05, 0.04, 0.1]], columns=[-1, 0, 1])
    band = analysis.mean_band(car)
    assert list(band.n) == [3, 3, 1]
    assert math.isclose(band.mean[-1], 0.03) and math.isclose(band.mean[1], 0.1)
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert math.isclose(band.upper[-1], 0.03 + half) and math.isclose(band.lower[-1], 0.03 - half)
    assert math.isnan(band.upper[1])  # one event: no band


def test_car_paths_recomputed_from_prices_match_the_stored_results(ctx) -> None:  # noqa: ANN001
    with ctx.engine.connect() as conn:
        for symbol in ("GEO", "CXW"):
            sessions = queries.ticker_event_sessions(conn, symbol)
            for e in sessions:
                e["benchmark"] = "SPY"
            measured = analysis.measure(conn, sessions, ctx.settings, windows=ctx.windows)
            stored = {(r["window_start"], r["window_end"]): r["car"]
                      for r in queries.event_results(conn, DEMO_ARTICLE, symbol)}
            ar = measured.ar.iloc[0]
            for (s, e), car in stored.items():
                assert math.isclose(float(ar.loc[s:e].sum()), car, abs_tol=1e-10), (symbol, s, e)
            assert measured.model == "market" and list(measured.events["status"]) == ["ok"]
            table = analysis.battery_table(measured, (-1, 1))
            assert len(table) == 13 and set(table["n"]) == {1}


def test_the_ticker_view_offers_the_intraday_bars_held(demo, ctx) -> None:  # noqa: ANN001
    """With 5-minute bars in the store, the chart can show them (in New York time), news placed by its time."""
    from monitor.store import db, repo

    ts = pd.date_range("2025-02-10 14:30", periods=78, freq="5min", tz="UTC")
    bars = pd.DataFrame({
        "symbol": "GEO", "interval": "5m", "ts": ts, "session": pd.Timestamp("2025-02-10"), "open": 30.0,
        "high": 30.2, "low": 29.8, "close": [30.0 + i / 100 for i in range(78)], "volume": 1000.0,
        "adjusted": False, "final": True, "source": "test", "flags": "",
    })
    engine = db.make_engine(demo.database_url)
    with engine.begin() as conn:
        repo.save_bars(conn, bars)
    engine.dispose()
    title, page = render_page(ctx, "/ticker/GEO", "?interval=5m&style=line")
    text = text_of(page)
    assert title == "GEO" and "Intraday 5m" in text and "5m: 2025-02-10 to 2025-02-10 (78 bars)" in text
    assert "GEO 5m bars, 2025-02-10 to 2025-02-10" in text and "Time (America/New_York)" in text
    assert '"2025-02-10T09:30:00' in text  # 14:30 UTC drawn at 09:30 New York time
    _, daily = render_page(ctx, "/ticker/GEO", "?interval=1m")  # not held: the daily chart
    assert "GEO daily against SPY" in text_of(daily)
