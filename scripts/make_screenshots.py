"""Screenshots of the dashboard's views for the README, from the seeds demo.

    python scripts/make_screenshots.py            # writes docs/screenshots/{overview,ticker,event,study}.png
    python scripts/make_screenshots.py --out DIR

It builds the demo store the way the browser tests do (one pipeline pass over
a copy of ``seeds/``, theme "private prisons" = CXW, GEO), serves the
dashboard on a free localhost port and photographs each view in Debian's
Chromium (Playwright; no browser download), with the same helpers as the
tests (``tests/dashboard_browser.py``). The browser test suite runs
:func:`capture` too, so the tooling cannot rot unnoticed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from dashboard_browser import (  # noqa: E402
    DEMO_ARTICLE,
    PageWatch,
    ServedApp,
    build_demo_store,
    launch_chromium,
    wait_for_graphs,
    wait_for_page,
)

#: (file name, path, Plotly graphs to wait for)
VIEWS: tuple[tuple[str, str, int], ...] = (
    ("overview.png", "/", 0),
    ("ticker.png", "/ticker/GEO", 2),
    ("event.png", f"/event/{DEMO_ARTICLE}/CXW", 2),
    ("study.png", "/study?theme=private+prisons", 1),
)


def capture(browser: Any, base_url: str, out: Path) -> list[Path]:
    """Photograph every view of the dashboard at ``base_url`` into ``out``; raises on a console error."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    watch = PageWatch().attach(page)
    written = []
    try:
        for name, path, graphs in VIEWS:
            page.goto(base_url + path)
            wait_for_page(page)
            if graphs:
                wait_for_graphs(page, count=graphs)
            if name == "ticker.png":  # show a news marker's hover label, as a reader would see it
                page.evaluate("() => { const gd = document.querySelector('#tk-price .js-plotly-plot');"
                              " const i = gd.data.findIndex(t => t.name === 'news');"
                              " Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]); }")
            if name == "event.png":  # the tagged span, as under the mouse
                page.locator("#ev-text mark.mine").first.hover()
            page.wait_for_timeout(300)
            target = out / name
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
    finally:
        context.close()
    if watch.errors or watch.dialogs:
        raise RuntimeError(f"the dashboard logged errors while photographed: {watch.errors + watch.dialogs}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder of the PNG files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = build_demo_store(Path(tmp))
        with ServedApp(settings) as served, launch_chromium() as browser:
            for path in capture(browser, served.url, args.out):
                print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
