"""Benchmark of the ticker tagger against the bare Aho-Corasick scan it is built on.

Tags about 10 MB of article text against the full bundled universe (every US
listing, the curated ETFs and companies, the major crypto and the watchlist)
and measures, in one process:

(a) start-up: loading the universe files and compiling the automaton;
(b) the floor: iterating the tagger's own automaton over the same text with
    nothing else done (``for _ in automaton.iter(text)``), which no tagger
    built on it can beat;
(c) the tagger: :meth:`~monitor.tagging.Tagger.tag_many` over every article
    (scan, word boundaries, every rule, relevance), the batch call that
    ``monitor tag`` and the pipeline use.

It prints MB/s of (b) and (c), their ratio, the start-up time and whether the
targets hold: at least 10 MB/s, within 5x of the bare scan, start-up under
2 s. The text is the Seeking Alpha set of ``$MONITOR_REFERENCE_DATA/news``
repeated to size when that folder is set, otherwise generated wire stories
(the generator of ``bench_dedup.py``). Run from the repository root::

    python benchmarks/bench_tagging.py [--mb 10] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup import generate  # noqa: E402

from monitor.config import load_settings  # noqa: E402
from monitor.models import TEXT_SEPARATOR  # noqa: E402
from monitor.pipeline import make_universe  # noqa: E402
from monitor.tagging import Tagger  # noqa: E402

TARGET_MB_PER_S = 10.0
TARGET_RATIO = 5.0
TARGET_STARTUP_S = 2.0


def corpus(megabytes: float) -> tuple[list[tuple[str, str]], str]:
    """Articles (title, body) adding up to about ``megabytes`` MB of text, and where they come from."""
    wanted = int(megabytes * 1_000_000)
    root = os.environ.get("MONITOR_REFERENCE_DATA")
    base: list[tuple[str, str]] = []
    origin = "generated wire stories"
    if root and (Path(root) / "news" / "seekingalpha_2025-02-07_09.csv").is_file():
        csv.field_size_limit(1 << 30)
        with (Path(root) / "news" / "seekingalpha_2025-02-07_09.csv").open(encoding="utf-8", newline="") as f:
            base = [(row["title"], row["body_markdown"]) for row in csv.DictReader(f)]
        origin = "Seeking Alpha articles (reference data), repeated"
    else:
        base = [(a.text.split("\n", 1)[0], a.text.split("\n", 1)[-1]) for a in generate(3_000, seed=11)]
    articles: list[tuple[str, str]] = []
    size = 0
    while size < wanted:
        for title, body in base:
            articles.append((title, body))
            size += len(title) + len(body) + len(TEXT_SEPARATOR)
            if size >= wanted:
                break
    return articles, origin


def best_of(repeat: int, action) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10.0, help="megabytes of text to tag (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    universe = make_universe(load_settings())
    tagger = Tagger(universe)
    startup = time.perf_counter() - started

    articles, origin = corpus(args.mb)
    texts = [title + TEXT_SEPARATOR + body for title, body in articles]
    megabytes = sum(len(t) for t in texts) / 1_000_000
    automaton = tagger.scanner.automaton

    def bare() -> None:
        for text in texts:
            for _ in automaton.iter(text):
                pass

    tags = 0

    def tag_all() -> None:
        nonlocal tags
        tags = sum(len(found) for found in tagger.tag_many(articles))

    bare_s = best_of(args.repeat, bare)
    tag_s = best_of(args.repeat, tag_all)
    figures = {
        "text": origin,
        "megabytes": round(megabytes, 2),
        "articles": len(articles),
        "universe_instruments": len(universe),
        "automaton_keys": tagger.scanner.keys,
        "startup_seconds": round(startup, 3),
        "bare_scan_mb_per_s": round(megabytes / bare_s, 1),
        "tagger_mb_per_s": round(megabytes / tag_s, 1),
        "ratio_tagger_to_bare": round(tag_s / bare_s, 2),
        "tags": tags,
    }
    figures["targets_met"] = (
        figures["tagger_mb_per_s"] >= TARGET_MB_PER_S
        and figures["ratio_tagger_to_bare"] <= TARGET_RATIO
        and startup <= TARGET_STARTUP_S
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"text: {figures['megabytes']} MB in {len(articles)} articles ({origin})")
    print(
        f"universe: {len(universe)} instruments, {figures['automaton_keys']} automaton keys; "
        f"start-up {startup:.2f} s (target < {TARGET_STARTUP_S} s)"
    )
    print(f"bare Aho-Corasick scan: {figures['bare_scan_mb_per_s']} MB/s ({bare_s:.2f} s)")
    print(f"tagger (scan + rules + relevance): {figures['tagger_mb_per_s']} MB/s ({tag_s:.2f} s), {tags} tags")
    print(
        f"ratio tagger/bare: {figures['ratio_tagger_to_bare']}x (target <= {TARGET_RATIO}x); "
        f"target >= {TARGET_MB_PER_S} MB/s: {'met' if figures['targets_met'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
