"""The JSON Lines news source: one article per line of a UTF-8 file.

Format (``monitor import news FILE.jsonl`` reads the same)::

    {"id": "a1", "title": "CoreCivic falls", "body": "Shares of ...", "published_at": "2025-02-04T21:35:00Z",
     "url": "https://example.com/a1", "source": "Reuters"}

=================  ==========================================================
key                meaning
=================  ==========================================================
``title``          required (a string that is not blank); markup is removed
``body``           the article text; ``summary`` is read when ``body`` is
                   missing; markup is removed as for feeds
``published_at``   optional ISO 8601 time: with a zone (``Z``, ``+01:00``)
                   it is exact (``zone_given``); without one it is read in
                   the default zone; a bare date (``2025-02-04``) marks the
                   article ``date_only`` (00:00 UTC of that date). Missing or
                   unreadable: the article is kept, dated with the import
                   time and marked ``undated``.
``id``             optional publisher identifier (string or integer),
                   kept as the article's ``guid``
``url``            optional link; kept only when it is http(s)
``source``         optional publisher label (``Reuters``)
=================  ==========================================================

Other keys are ignored. ``source_id`` (unique within the file's source) is
``"<source label>:<key>"`` when a label is given, else ``<key>``, where the
key is the ``id``, else the ``url``, else ``line <n>``; the label keeps two
publishers' equal ids apart, since :class:`~monitor.models.Article` has no
publisher field. Blank lines are skipped. A line that is not JSON, not an
object, or has no usable title is dropped with its reason
(``Dropped(item="<path>:<line>")``). A file that cannot be opened or is not
UTF-8 raises :class:`~monitor.errors.SourceError`.

The file is read line by line (:func:`iter_jsonl`), never whole; a line
longer than :data:`MAX_LINE_BYTES` is dropped without being held in memory.
Each line is decoded on its own, so a byte that is not UTF-8 is reported
with its exact line number.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator

from monitor import clock as _clock
from monitor.news.feeds import html_to_text
from monitor.errors import SourceError
from monitor.models import Article, ensure_utc
from monitor.news import Dropped, PollState, SourceBatch
from monitor.news.files import parse_stamp

log = logging.getLogger(__name__)

__all__ = ["JsonLinesSource", "NewsLine", "iter_jsonl", "read_jsonl"]

#: Longest line read, in bytes; longer lines are dropped.
MAX_LINE_BYTES = 1_000_000
_CHUNK = 65_536
_BOM = b"\xef\xbb\xbf"


class NewsLine(BaseModel):
    """One line of a JSON Lines news file, as parsed (untrusted input)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    title: StrictStr
    body: StrictStr | None = None
    summary: StrictStr | None = None
    published_at: Any = None
    id: str | int | None = None
    url: StrictStr | None = None
    source: StrictStr | None = None

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("the title is blank")
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text_or_integer(cls, value: Any) -> Any:
        if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ValueError("must be a string or an integer")

    @property
    def text(self) -> str:
        """The article text: ``body``, else ``summary``, else ``""``."""
        return self.body or self.summary or ""


class JsonLinesSource:
    """Articles from one JSON Lines file, read again on every poll.

    Parameters
    ----------
    path
        The ``.jsonl`` file.
    name
        The source's name; default ``jsonl:<file name>``.
    default_tz
        Zone of times written without one.
    now
        Returns the current aware time; the date of undated lines.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        default_tz: ZoneInfo,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or f"jsonl:{self.path.name}"
        self.default_tz = default_tz
        self._now = now or _clock.now

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, name={self.name!r})"

    def fetch(self, state: PollState | None = None) -> SourceBatch:
        """Read the whole file; ``state`` is ignored (a local file has no validators).

        Raises
        ------
        SourceError
            The file cannot be read or is not UTF-8.
        """
        return read_jsonl(self.path, source=self.name, default_tz=self.default_tz, fetched_at=self._now())


def read_jsonl(
    path: str | os.PathLike[str], *, source: str, default_tz: ZoneInfo, fetched_at: datetime
) -> SourceBatch:
    """Read a JSON Lines news file into one batch.

    Parameters
    ----------
    path
        The file (format in the module docstring).
    source
        The ``source`` of every article and of the batch.
    default_tz
        Zone of times written without one.
    fetched_at
        Aware time of the import: the ``published_at`` of undated lines.

    Returns
    -------
    SourceBatch
        The articles in file order and the dropped lines with their reasons.

    Raises
    ------
    SourceError
        The file cannot be opened or read, or is not UTF-8.
    """
    articles: list[Article] = []
    dropped: list[Dropped] = []
    for entry in iter_jsonl(path, source=source, default_tz=default_tz, fetched_at=fetched_at):
        (articles if isinstance(entry, Article) else dropped).append(entry)  # type: ignore[arg-type]
    undated = sum(a.undated for a in articles)
    if undated:
        log.warning("%s: %d of %d articles have no usable published_at; dated %s", path, undated, len(articles), fetched_at)
    if dropped:
        log.warning("%s: dropped %d lines (first: line %s: %s)", path, len(dropped), dropped[0].item.rsplit(":", 1)[-1], dropped[0].reason)
    return SourceBatch(source=source, articles=tuple(articles), dropped=tuple(dropped))


def iter_jsonl(
    path: str | os.PathLike[str], *, source: str, default_tz: ZoneInfo, fetched_at: datetime
) -> Iterator[Article | Dropped]:
    """Yield an :class:`Article` or a :class:`~monitor.news.Dropped` per non-blank line, streaming.

    Parameters are those of :func:`read_jsonl`. The file is opened when
    iteration starts and read one line at a time.

    Raises
    ------
    SourceError
        The file cannot be opened or read, or is not UTF-8 (raised when the
        bad part is reached: the entries before it have been yielded).
    """
    fetched_at = ensure_utc(fetched_at)
    where = os.fspath(path)
    try:
        handle = open(where, "rb")  # noqa: SIM115 - closed by the with block below
    except OSError as exc:
        raise SourceError(f"cannot read JSON Lines file {where}: {exc.strerror or exc}") from exc
    with handle:
        try:
            for lineno, raw in _lines(handle):
                if raw is None:
                    yield Dropped(f"{where}:{lineno}", f"line longer than {MAX_LINE_BYTES} bytes")
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise SourceError(
                        f"{where} is not UTF-8 text (line {lineno}, column {exc.start + 1}); save it as UTF-8"
                    ) from exc
                if not line.strip():
                    continue
                try:
                    yield parse_line(line, source=source, default_tz=default_tz, fetched_at=fetched_at, lineno=lineno)
                except ValueError as exc:
                    log.debug("%s:%d dropped: %s", where, lineno, exc)
                    yield Dropped(f"{where}:{lineno}", str(exc))
        except OSError as exc:
            raise SourceError(f"cannot read JSON Lines file {where}: {exc.strerror or exc}") from exc


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` per line (a UTF-8 BOM removed); None for a line over :data:`MAX_LINE_BYTES`."""
    lineno = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        lineno += 1
        if lineno == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the long line without keeping it
            yield lineno, None
            continue
        yield lineno, line


def parse_line(line: str, *, source: str, default_tz: ZoneInfo, fetched_at: datetime, lineno: int) -> Article:
    """Turn one JSON Lines line into an :class:`Article`.

    Raises
    ------
    ValueError
        The line is not JSON, not an object, or has no usable title; the
        message is the reason shown to the user.
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {_json_type(data)}")
    title = data.get("title")
    if title is None:
        raise ValueError("no title")
    if isinstance(title, str) and not title.strip():
        raise ValueError("blank title")
    try:
        parsed = NewsLine.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_validation_reason(exc)) from None

    published_at, date_only, zone_given, undated = _published(parsed.published_at, default_tz, fetched_at)
    url = parsed.url if parsed.url and parsed.url.lower().startswith(("http://", "https://")) else None
    guid = str(parsed.id) if parsed.id is not None and str(parsed.id) else None
    key = guid or url or f"line {lineno}"
    return Article(
        source=source,
        source_id=f"{parsed.source}:{key}" if parsed.source else key,
        title=html_to_text(parsed.title, one_line=True) or " ".join(parsed.title.split()),
        body=html_to_text(parsed.text),
        published_at=published_at,
        date_only=date_only,
        zone_given=zone_given,
        url=url,
        guid=guid,
        undated=undated,
    )


def _published(value: Any, default_tz: ZoneInfo, fetched_at: datetime) -> tuple[datetime, bool, bool, bool]:
    """``(published_at, date_only, zone_given, undated)`` of a ``published_at`` value."""
    if isinstance(value, str) and value.strip():
        try:
            published_at, date_only, zone_given = parse_stamp(value, default_tz)
            return published_at, date_only, zone_given, False
        except (ValueError, OverflowError):
            pass
    return fetched_at, False, False, True


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _validation_reason(exc: ValidationError) -> str:
    """One line naming each invalid field: ``title: Input should be a valid string``."""
    parts = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "line"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)
