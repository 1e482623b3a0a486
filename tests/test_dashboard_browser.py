"""The dashboard in a real browser: Debian's Chromium driven by Playwright, the seeds demo served on localhost.

What a person does first: the overview lists the example article with CXW,
GEO and BTC-USD; clicking GEO opens its chart with the 2025-02-04 news marker
(the headline on hover); the event view highlights "CoreCivic, Inc. CXW";
filters, sorting and the study keep their state in a URL that can be shared.
A hostile headline and link stay inert text. No page logs a console error.
"""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dashboard_browser import (
    DEMO_ARTICLE,
    PageWatch,
    ServedApp,
    build_demo_store,
    chromium_missing_reason,
    graph_traces,
    launch_chromium,
    wait_for_graphs,
    wait_for_page,
)

_missing = chromium_missing_reason()
if _missing and os.environ.get("CI") != "true":
    pytest.skip(_missing, allow_module_level=True)

EVIL_TITLE = "<img src=x onerror=alert(1)>"
EVIL_URL = "javascript:alert(1)"
HEADLINE = "El Salvador's President Nayib Bukele says he will incarcerate"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - Settings
    return build_demo_store(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def served(demo):  # noqa: ANN001, ANN201 - ServedApp
    with ServedApp(demo) as app:
        yield app


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a Playwright Browser
    if _missing:
        pytest.fail(f"{_missing}; under CI=true the browser tests must run (.ci/run installs chromium)")
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201 - (Page, PageWatch)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    watch = PageWatch().attach(tab)
    yield tab, watch
    context.close()
    assert watch.errors == [], f"console errors: {watch.errors}"
    assert watch.dialogs == [], f"dialogs opened: {watch.dialogs}"


def rows(tab: Any) -> list[str]:
    return tab.locator("#ov-table tr.ov-row").evaluate_all("rows => rows.map(r => r.dataset.symbol)")


def test_overview_lists_the_example_article_and_geo_opens_its_chart(served: ServedApp, page) -> None:  # noqa: ANN001
    tab, _ = page
    tab.goto(served.url + "/")
    wait_for_page(tab)
    assert sorted(rows(tab)) == ["BTC-USD", "CXW", "GEO"]
    table = tab.inner_text("#ov-table")
    assert HEADLINE in table and "-9.36%" in table and "-6.75%" in table and "-2.48" in table
    assert "1–3 of 3 events" in tab.inner_text("#ov-summary")
    assert "No alerts raised yet" in tab.inner_text("#ov-alerts")
    assert tab.title() == "Overview · Market-impact monitor"

    tab.click("#ov-table tr.ov-row[data-symbol='GEO'] a.ticker")
    tab.wait_for_url(served.url + "/ticker/GEO")
    wait_for_page(tab)
    wait_for_graphs(tab, "#tk-price")
    news = next(t for t in graph_traces(tab, "tk-price") if t["name"] == "news")
    assert [x[:10] for x in news["x"]] == ["2025-02-04"]
    assert news["hovertext"][0].startswith("El Salvador&#39;s President")  # escaped for plotly, shown as typed
    # Hover the marker: the headline shows in the tooltip, as plain text.
    tab.evaluate("() => { const gd = document.querySelector('#tk-price .js-plotly-plot');"
                 " const i = gd.data.findIndex(t => t.name === 'news');"
                 " Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]); }")
    tab.wait_for_function("() => document.querySelector('#tk-price .hoverlayer').textContent.includes('Bukele')")
    hover = tab.text_content("#tk-price .hoverlayer")
    assert "El Salvador's President" in hover and 'praised as an "un…' in hover and "&" not in hover
    assert "-9.36%" in tab.inner_text("#tk-events")
    wait_for_graphs(tab, "#tk-car")
    assert "1 of 1 event(s) measured with the market model" in tab.inner_text("#tk-car-note")


def test_event_view_highlights_the_tagged_spans(served: ServedApp, page) -> None:  # noqa: ANN001
    tab, _ = page
    tab.goto(served.url + "/")
    wait_for_page(tab)
    tab.click("#ov-table tr.ov-row[data-symbol='CXW'] a.headline")
    tab.wait_for_url(re.compile(r".*/event/[0-9a-f]{64}/CXW$"))
    wait_for_page(tab)
    mark = tab.locator("#ev-text mark", has_text="CoreCivic, Inc. CXW")
    assert mark.count() == 1 and mark.is_visible()
    assert mark.get_attribute("title") == "CXW: rule name_ticker (name followed by its ticker), relevance 52"
    assert "mine" in mark.get_attribute("class")
    other = tab.locator("#ev-text mark", has_text="GEO Group, Inc. GEO")
    assert "other" in other.get_attribute("class")
    assert tab.locator("#ev-text mark").count() == 3  # Bitcoin BTC/USD, CoreCivic, GEO Group
    returns = tab.inner_text("#ev-returns-table")
    assert "-6.75%" in returns and "-2.00" in returns and "-12.61%" in returns
    fit = tab.inner_text("#ev-fit-table")
    assert "1.452" in fit and "240" in fit and "3.37%" in fit
    assert "date only" in tab.inner_text("#ev-flags")
    assert "no link" in tab.inner_text("#ev-meta")
    wait_for_graphs(tab, "#ev-charts", count=2)
    # Another ticker of the same article is one click away.
    tab.locator("#ev-siblings a", has_text="GEO").click()
    tab.wait_for_url(served.url + f"/event/{DEMO_ARTICLE}/GEO")
    wait_for_page(tab)
    assert "-9.36%" in tab.inner_text("#ev-returns-table")


def test_filters_sorting_and_paging_live_in_a_shareable_url(served: ServedApp, page) -> None:  # noqa: ANN001
    tab, _ = page
    tab.goto(served.url + "/")
    wait_for_page(tab)
    tab.click("#ov-ticker")
    tab.get_by_role("option", name="GEO", exact=True).click()
    tab.wait_for_url(served.url + "/?ticker=GEO")
    tab.wait_for_function("() => document.querySelectorAll('#ov-table tr.ov-row').length === 1")
    assert rows(tab) == ["GEO"]

    tab.goto(served.url + "/")
    wait_for_page(tab)
    tab.fill("#ov-min-move", "7")
    tab.press("#ov-min-move", "Enter")
    tab.wait_for_url(served.url + "/?min_move=7")
    tab.wait_for_function("() => document.querySelectorAll('#ov-table tr.ov-row').length === 1")
    assert rows(tab) == ["GEO"]
    tab.fill("#ov-min-rel", "60")
    tab.press("#ov-min-rel", "Enter")
    tab.wait_for_function("() => document.querySelector('#ov-summary').innerText.includes('No events match')")
    assert "No events match these filters" in tab.inner_text("#ov-body")
    assert tab.url == served.url + "/?min_rel=60&min_move=7"

    # Sorting: a header click sorts largest first, a second click smallest first; no return goes last.
    tab.goto(served.url + "/")
    wait_for_page(tab)
    tab.click("#ov-table th button:has-text('AR d0')")
    tab.wait_for_url(served.url + "/?sort=ar")
    tab.wait_for_function("() => document.querySelector('#ov-table tr.ov-row').dataset.symbol === 'CXW'")
    assert rows(tab) == ["CXW", "GEO", "BTC-USD"]
    tab.click("#ov-table th button:has-text('AR d0')")
    tab.wait_for_url(served.url + "/?sort=ar&dir=asc")
    tab.wait_for_function("() => document.querySelector('#ov-table tr.ov-row').dataset.symbol === 'GEO'")
    assert rows(tab) == ["GEO", "CXW", "BTC-USD"]
    assert "AR d0 ▲" in tab.inner_text("#ov-table thead")

    # The URL alone gives the same page (a shared link), paged one row at a time.
    tab.goto(served.url + "/?sort=ar&dir=asc&size=1&page=2")
    wait_for_page(tab)
    assert rows(tab) == ["CXW"]
    assert "2–2 of 3" in tab.inner_text("#ov-summary") and "page 2 of 3" in tab.inner_text("#ov-pageinfo")
    tab.click("#ov-next")
    tab.wait_for_url(served.url + "/?sort=ar&dir=asc&page=3&size=1")
    tab.wait_for_function("() => document.querySelector('#ov-table tr.ov-row').dataset.symbol === 'BTC-USD'")
    assert tab.is_disabled("#ov-next") and not tab.is_disabled("#ov-prev")
    # Back goes to the previous URL and its page.
    tab.go_back()
    tab.wait_for_function("() => document.querySelector('#ov-table tr.ov-row').dataset.symbol === 'CXW'")


def test_study_of_a_theme_shows_the_caar_and_the_test_battery(served: ServedApp, page) -> None:  # noqa: ANN001
    tab, _ = page
    tab.goto(served.url + "/study?theme=private+prisons")
    wait_for_page(tab)
    summary = tab.inner_text("#st-summary")
    assert "2 event(s) selected (theme “private prisons”)" in summary and "2 measured with the market model" in summary
    wait_for_graphs(tab, "#st-caar")
    battery = tab.inner_text("#st-battery-table")
    assert "CAAR cross-sectional t" in battery and "Wilcoxon signed rank" in battery
    assert tab.locator("#st-battery-table tbody tr").count() == 13
    assert "-9.40%" in tab.inner_text("#st-battery")  # mean of -11.94% and -6.85%
    # Switching to the mean-adjusted model keeps the selection and updates the URL.
    tab.click("#st-model")
    tab.get_by_role("option", name=re.compile("Mean-adjusted")).click()
    tab.wait_for_url(re.compile(r".*/study\?theme=private\+prisons&model=mean&window=-1%3A1$"))
    tab.wait_for_function("() => document.querySelector('#st-summary').innerText.includes('mean model')")


def test_unknown_tickers_events_and_paths_say_not_found(served: ServedApp, page) -> None:  # noqa: ANN001
    tab, _ = page
    for path, what in (("/ticker/NOPE", "Ticker not found"), (f"/event/{DEMO_ARTICLE}/NOPE", "Event not found"),
                       ("/event/unknown-key/GEO", "Event not found"), ("/nowhere/at/all", "Page not found")):
        tab.goto(served.url + path)
        wait_for_page(tab)
        text = tab.inner_text("#page")
        assert what in text and "not found" in text, path
        assert tab.locator("#page a", has_text="Back to the overview").count() == 1
    tab.click("#page a:has-text('Back to the overview')")
    tab.wait_for_url(served.url + "/")
    wait_for_page(tab)
    assert len(rows(tab)) == 3
    # The ticker box in the top bar opens a ticker, case-insensitively.
    tab.fill("#nav-ticker", "geo")
    tab.press("#nav-ticker", "Enter")
    tab.wait_for_url(served.url + "/ticker/GEO")


# Hostile input ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(demo, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201 - ServedApp
    """The demo store plus an article whose headline is an HTML payload and whose link is javascript:."""
    from monitor.models import Article, Event, Mention, TickerTag, Timing
    from monitor.store import db, repo

    folder = tmp_path_factory.mktemp("hostile")
    source = Path(demo.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(source) as src, sqlite3.connect(folder / "monitor.db") as dst:
        src.backup(dst)
    settings = demo.model_copy(update={"database_url": f"sqlite:///{folder / 'monitor.db'}"})
    body = "GEO Group, Inc. GEO said <script>alert(2)</script> and [x](javascript:alert(3))."
    article = Article(source="rss:evil", source_id="evil-1", title=EVIL_TITLE, body=body,
                      published_at=datetime(2025, 2, 7, 15, 0, tzinfo=timezone.utc), url=EVIL_URL)
    start = len(EVIL_TITLE) + 2
    tag = TickerTag(symbol="GEO", relevance=61.0,
                    mentions=(Mention(symbol="GEO", start=start, end=start + 19, matched="GEO Group, Inc. GEO",
                                      method="name_ticker"),))
    engine = db.open_store(settings.database_url)
    with engine.begin() as conn:
        repo.save_articles(conn, [article])
        repo.save_mentions(conn, [(article.key, [tag])])
        repo.save_events(conn, [Event(article_key=article.key, symbol="GEO", published_at=article.published_at,
                                      session=datetime(2025, 2, 7).date(), timing=Timing.REGULAR, calendar="XNYS",
                                      date_only=False, relevance=61.0)])
    engine.dispose()
    with ServedApp(settings) as app:
        app.article_key = article.key
        yield app


def test_a_hostile_headline_and_link_render_as_inert_text(hostile: ServedApp, page) -> None:  # noqa: ANN001
    tab, watch = page
    tab.goto(hostile.url + "/")
    wait_for_page(tab)
    assert EVIL_TITLE in tab.inner_text("#ov-table")
    assert tab.locator("#page img").count() == 0
    tab.goto(hostile.url + f"/event/{hostile.article_key}/GEO")
    wait_for_page(tab)
    assert tab.inner_text("#ev-title") == EVIL_TITLE
    meta = tab.inner_text("#ev-meta")
    assert EVIL_URL in meta and "not a web link" in meta
    assert tab.locator("a[href^='javascript']").count() == 0
    assert tab.locator("#page img, #page script").count() == 0
    text = tab.inner_text("#ev-text")
    assert "<script>alert(2)</script>" in text and "[x](javascript:alert(3))" in text
    assert tab.locator("#ev-text mark", has_text="GEO Group, Inc. GEO").count() == 1
    tab.goto(hostile.url + "/ticker/GEO")
    wait_for_page(tab)
    wait_for_graphs(tab, "#tk-price")
    news = next(t for t in graph_traces(tab, "tk-price") if t["name"] == "news")
    assert "&lt;img src=x onerror=alert(1)&gt;" in news["hovertext"]
    tab.evaluate("() => { const gd = document.querySelector('#tk-price .js-plotly-plot');"
                 " const i = gd.data.findIndex(t => t.name === 'news');"
                 " Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: gd.data[i].x.length - 1}]); }")
    tab.wait_for_function("() => document.querySelector('#tk-price .hoverlayer').textContent.includes('onerror')")
    assert EVIL_TITLE in tab.text_content("#tk-price .hoverlayer")
    assert tab.locator("#tk-price img").count() == 0
    assert watch.dialogs == []


# An empty store -----------------------------------------------------------------------------
def test_an_empty_store_says_how_to_load_the_demo(tmp_path: Path, demo, page) -> None:  # noqa: ANN001
    tab, _ = page
    for name, migrate in (("fresh.db", False), ("migrated.db", True)):
        settings = demo.model_copy(update={"database_url": f"sqlite:///{tmp_path / name}"})
        if migrate:
            from monitor.store import db

            db.open_store(settings.database_url).dispose()
        with ServedApp(settings) as app:
            for path in ("/", "/study"):
                tab.goto(app.url + path)
                wait_for_page(tab)
                text = tab.inner_text("#page")
                assert "No events in the store yet" in text and "monitor run --once" in text, (name, path)
            tab.goto(app.url + "/ticker/GEO")
            wait_for_page(tab)
            text = tab.inner_text("#page")
            assert "monitor run --once" in text  # a store without tables, or a ticker not found in an empty one
            assert ("not found" in text) == migrate


# The README's screenshots -------------------------------------------------------------------
def test_the_screenshot_tooling_photographs_every_view(served: ServedApp, browser, tmp_path: Path) -> None:  # noqa: ANN001
    """scripts/make_screenshots.py (which writes docs/screenshots/) on the demo served here."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from make_screenshots import VIEWS, capture

    written = capture(browser, served.url, tmp_path)
    assert [p.name for p in written] == [name for name, _, _ in VIEWS]
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
