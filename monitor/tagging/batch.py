"""Tagging a file of articles: the engine of ``monitor tag``.

Input is JSON Lines, one article a line::

    {"id": "a1", "title": "CoreCivic falls", "body": "Shares of ...", "published_at": "2025-02-04T21:35:00Z"}

``id`` and ``title`` or ``body`` are needed; other keys are ignored. Output is
JSON Lines in the same order, one line per article tagged::

    {"id": "a1", "tickers": [{"symbol": "CXW", "name": "CoreCivic", "relevance": 52.5,
      "mentions": [{"field": "body", "start": 10, "end": 29, "text": "CoreCivic, Inc. CXW",
                    "rule": "name_ticker"}]}]}

``start``/``end`` index into the ``field`` the mention is in (``title`` or
``body``), so ``body[start:end] == text``. Tickers are ordered by relevance,
highest first; those under ``min_relevance`` are left out (an article with
none still gets its line, with an empty list). ``published_at`` is copied
through when given.

A line that cannot be read (not UTF-8, not JSON, not an object, no id, no
text) is skipped and reported with its line number; the lines after it are
still tagged. Lines are read one at a time, so the file may be larger than
memory; a single line may hold up to :data:`MAX_LINE_BYTES`.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from monitor.models import TEXT_SEPARATOR
from monitor.tagging.matcher import Tagger

#: Longest line read, in bytes (an article of tens of megabytes is still tagged).
MAX_LINE_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16


@dataclass
class BatchReport:
    """What one batch run did."""

    lines: int = 0  #: non-blank lines read
    tagged: int = 0  #: articles written
    with_tickers: int = 0  #: articles with at least one ticker at the relevance floor
    skipped: list[tuple[int, str]] = field(default_factory=list)  #: (line number, reason)
    characters: int = 0  #: characters of text tagged

    def counts(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "tagged": self.tagged,
            "with_tickers": self.with_tickers,
            "skipped": len(self.skipped),
            "characters": self.characters,
        }


def tag_lines(
    source: IO[bytes],
    sink: IO[str],
    tagger: Tagger,
    *,
    min_relevance: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """Tag every article of a JSON Lines stream and write one result line per article.

    Parameters
    ----------
    source
        The input, opened in binary mode.
    sink
        Where result lines go (text mode).
    tagger
        The tagger (the pipeline's: universe and watchlist).
    min_relevance
        Tickers below this relevance are left out of the output.
    progress
        Called with the number of bytes read after each line.

    Returns
    -------
    BatchReport
    """
    report = BatchReport()
    names = tagger.universe.instruments
    # As in Tagger.tag_many: the cyclic collector is paused while lines are tagged (nothing here makes cycles).
    paused = gc.isenabled()
    gc.disable()
    try:
        _tag_lines(source, sink, tagger, names, min_relevance, progress, report)
    finally:
        if paused:
            gc.enable()
    return report


def _tag_lines(source, sink, tagger, names, min_relevance, progress, report) -> None:  # noqa: ANN001, PLR0913
    for lineno, raw, size in _lines(source):
        if progress is not None:
            progress(size)
        if raw is None:
            report.skipped.append((lineno, f"line longer than {MAX_LINE_BYTES:,} bytes"))
            continue
        if not raw.strip():
            continue
        report.lines += 1
        try:
            article = _parse(raw)
        except ValueError as exc:
            report.skipped.append((lineno, str(exc)))
            continue
        title, body = article["title"], article["body"]
        report.characters += len(title) + len(body)
        tags = [tag for tag in tagger.tag(title, body) if tag.relevance >= min_relevance]
        body_offset = len(title) + len(TEXT_SEPARATOR)
        out: dict[str, Any] = {"id": article["id"]}
        if article.get("published_at") is not None:
            out["published_at"] = article["published_at"]
        out["tickers"] = [
            {
                "symbol": tag.symbol,
                "name": names[tag.symbol].name if tag.symbol in names else None,
                "relevance": tag.relevance,
                "mentions": [_mention(m.start, m.end, m.matched, m.method, body_offset) for m in tag.mentions],
            }
            for tag in tags
        ]
        sink.write(json.dumps(out, ensure_ascii=False) + "\n")
        report.tagged += 1
        report.with_tickers += bool(tags)


def _mention(start: int, end: int, text: str, rule: str, body_offset: int) -> dict[str, Any]:
    if start >= body_offset:
        return {"field": "body", "start": start - body_offset, "end": end - body_offset, "text": text, "rule": rule}
    return {"field": "title", "start": start, "end": end, "text": text, "rule": rule}


def _parse(raw: bytes) -> dict[str, Any]:
    """One input line as {id, title, body, published_at}; ValueError says what is wrong."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1})") from None
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    ident = value.get("id")
    if ident is None or isinstance(ident, (bool, dict, list)) or (isinstance(ident, str) and not ident.strip()):
        raise ValueError('no "id" (a string or a number)')
    title, body = value.get("title", ""), value.get("body", "")
    if title is None:
        title = ""
    if body is None:
        body = ""
    if not isinstance(title, str) or not isinstance(body, str):
        raise ValueError('"title" and "body" must be strings')
    if not title.strip() and not body.strip():
        raise ValueError('no text: "title" and "body" are both empty')
    return {"id": ident, "title": title, "body": body, "published_at": value.get("published_at")}


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line number, bytes or None when too long, bytes read)`` per line; a UTF-8 BOM is removed."""
    lineno = 0
    pending = bytearray()
    too_long = False
    first = True
    while True:
        chunk = handle.read(_CHUNK)
        if first:
            first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        if not chunk:
            break
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            if newline == -1:
                if not too_long:
                    pending += chunk[start:]
                    if len(pending) > MAX_LINE_BYTES:
                        too_long = True
                        pending.clear()
                break
            lineno += 1
            piece = chunk[start:newline]
            size = len(pending) + len(piece) + 1
            if too_long:
                yield lineno, None, size
            else:
                pending += piece
                if len(pending) > MAX_LINE_BYTES:
                    yield lineno, None, size
                else:
                    yield lineno, bytes(pending.rstrip(b"\r")), size
            pending.clear()
            too_long = False
            start = newline + 1
    if pending or too_long:
        lineno += 1
        yield lineno, (None if too_long else bytes(pending.rstrip(b"\r"))), len(pending)
