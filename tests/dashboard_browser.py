"""Helpers shared by the dashboard's browser tests, its benchmark and the screenshot script.

* :func:`build_demo_store`: the seeds demo store, built the way
  ``monitor run --once`` builds it (one pipeline pass over a copy of
  ``seeds/``), with the theme "private prisons" = CXW, GEO;
* :class:`ServedApp`: the dashboard served by werkzeug on a free localhost
  port in a background thread;
* :func:`launch_chromium`: Debian's Chromium driven by Playwright (no browser
  download), or a skip (a failure under ``CI=true``) when it is missing;
* :class:`PageWatch`: the console errors, page errors and dialogs of a page.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# An editable install made before `dashboards` joined the packages maps only `monitor`;
# `pip install -e .` refreshes it. The checkout itself always has both.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: The demo's pass runs "now" at this time, as the digest tests do: every window is complete.
DEMO_NOW = datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc)
DEMO_THEMES = {"private prisons": ["CXW", "GEO"]}
DEMO_ARTICLE = "0ea453d627ead457953bcd284889e687e9157bf1b9741da001baa1c2c364897f"


def demo_settings(folder: Path, **overrides: Any):  # noqa: ANN201 - monitor.config.Settings
    """Settings of a store in ``folder`` reading a copy of the seeds there."""
    from monitor.config import load_settings

    seeds = folder / "seeds"
    if not seeds.exists():
        shutil.copytree(ROOT / "seeds", seeds)
    values = {"database_url": f"sqlite:///{folder / 'monitor.db'}", "seeds_dir": seeds, "themes": DEMO_THEMES,
              "digest_dir": folder / "digests"} | overrides
    return load_settings(**values)


def build_demo_store(folder: Path, **overrides: Any):  # noqa: ANN201 - monitor.config.Settings
    """Run one pipeline pass over the seeds into ``folder/monitor.db``; return its settings."""
    from monitor.pipeline import Pipeline
    from monitor.store import db

    folder.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(folder, **overrides)
    engine = db.open_store(settings.database_url)
    try:
        Pipeline(settings, engine).run_pass(now=DEMO_NOW)
    finally:
        engine.dispose()
    return settings


class ServedApp:
    """The dashboard of ``settings`` on http://127.0.0.1:PORT/ in a daemon thread (use as a context manager)."""

    def __init__(self, settings: Any, *, app: Any = None) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        from dashboards.app import create_app

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request is noise here
                pass

        self.app = app or create_app(settings)
        self.server = make_server("127.0.0.1", 0, self.app.server, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="dashboard", daemon=True)

    def __enter__(self) -> "ServedApp":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        engine = self.app.server.config["dashboard_context"].engine
        engine.dispose()


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed at /usr/bin/chromium (Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """Console errors, uncaught page errors and dialogs of one page."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> "PageWatch":
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return self


def wait_for_page(page: Any, timeout: float = 15_000) -> None:
    """Wait until the router has rendered (no "Loading…") and Dash has no request in flight."""
    page.wait_for_function(
        "() => { const m = document.querySelector('#page');"
        " return m && !m.innerText.startsWith('Loading')"
        " && !document.querySelector('[data-dash-is-loading=\"true\"]'); }",
        timeout=timeout,
    )


def wait_for_graphs(page: Any, selector: str = ".js-plotly-plot", count: int = 1, timeout: float = 20_000) -> None:
    """Wait until ``count`` Plotly graphs matching ``selector`` have drawn."""
    page.wait_for_function(
        f"() => document.querySelectorAll('{selector} .main-svg').length >= {count}", timeout=timeout)


def graph_traces(page: Any, graph_id: str) -> list[dict[str, Any]]:
    """The traces (name, x, hovertext) of the Plotly graph inside ``#graph_id``."""
    return page.evaluate(
        "id => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " return gd.data.map(t => ({name: t.name, x: Array.from(t.x || []).map(String),"
        " hovertext: t.hovertext ? Array.from(t.hovertext) : null})); }", graph_id)


def headless_env() -> dict[str, str]:
    """The environment of a `monitor` subprocess that can import this checkout's `dashboards`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
