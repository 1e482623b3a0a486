"""The digest for 2025-02-04 from the seeds, opened in headless Chromium (Debian's, no browser download).

Its charts must render offline (Plotly is embedded), its tables must show CXW and
GEO with their abnormal returns, and the page must log no error.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.digest import run_digest
from monitor.pipeline import Pipeline
from monitor.store import db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser():  # noqa: ANN201 - a Playwright browser
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (Debian package chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def test_the_digest_renders_offline_with_its_charts_and_tables(tmp_path: Path, seeds_copy: Path, browser) -> None:  # noqa: ANN001
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", seeds_dir=seeds_copy,
                             digest_dir=tmp_path / "digests")
    engine = db.open_store(settings.database_url)
    Pipeline(settings, engine).run_pass(now=datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc))
    summary = run_digest(engine, settings, date(2025, 2, 4), send=False)
    engine.dispose()
    html = Path(summary["html_path"])
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html.as_uri())
    figures = page.locator("[id^=digest-fig-]")
    count = figures.count()
    assert count >= 2
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}", timeout=15_000
    )
    text = page.inner_text("body")
    for symbol, move in (("CXW", "-6.75%"), ("GEO", "-9.36%")):
        assert symbol in text and move in text
    assert "El Salvador" in text
    assert errors == []
    assert all(url.startswith("file://") or url.startswith("data:") for url in requests)  # nothing fetched
