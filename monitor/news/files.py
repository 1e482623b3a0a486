"""The files news source: one article per text file in a folder.

File format (UTF-8, ``.txt`` or ``.md``): the first word is ``date``, then
the publication time in ISO 8601, then the text::

    date 2025-02-04 El Salvador's President ...
    date 2025-02-04T16:35:00-05:00 ...
    date 2025-02-04 21:35Z ...

A date alone marks the article date-only (placed at 00:00 UTC of that date);
a time without a zone is read in the configured default zone and marked as
assumed. The first paragraph is the title when it is short (up to 200
characters), otherwise its first sentence is; the rest is the body. A file
that cannot be read or carries no valid date is dropped with its reason.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.models import Article
from monitor.news import Dropped, PollState, SourceBatch

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
MAX_BYTES = 5_000_000
TITLE_MAX = 200

_HEAD = re.compile(r"^\s*date\s+(?P<stamp>\S+(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)\s+", re.I)
_SENTENCE_END = re.compile(r"[.!?][\"'”’]?\s+(?=[A-Z\"“])")
_ABBREVIATION = re.compile(r"(?:\b[A-Z]\.)+$|\b(?:Mr|Mrs|Ms|Dr|Prof|Inc|Corp|Co|Ltd|St|Jr|Sr|vs|No)\.$")


def first_sentence(text: str) -> tuple[str, str]:
    """Split ``text`` after its first sentence (abbreviations such as U.S. do not end one)."""
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.start() + 1]
        if _ABBREVIATION.search(head):
            continue
        return text[: match.end()].strip(), text[match.end() :].strip()
    return text.strip(), ""


class UndatedFileError(ValueError):
    """The file does not start with ``date <ISO date>``."""


def parse_stamp(stamp: str, default_tz: ZoneInfo) -> tuple[datetime, bool, bool]:
    """Parse the ``date`` header value.

    Returns ``(published_at in UTC, date_only, zone_given)``.
    """
    text = stamp.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "T" not in text:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UndatedFileError(f"{stamp!r} is not an ISO date (YYYY-MM-DD)") from None
        return datetime.combine(day, time(0), tzinfo=timezone.utc), True, False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UndatedFileError(f"{stamp!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=default_tz).astimezone(timezone.utc), False, False
    return moment.astimezone(timezone.utc), False, True


def split_title(text: str) -> tuple[str, str]:
    """Split article text into a title and a body."""
    text = text.strip()
    first, _, rest = text.partition("\n")
    first = first.strip()
    if len(first) <= TITLE_MAX:
        return first, rest.strip()
    sentence, remainder = first_sentence(first)
    if len(sentence) <= 2 * TITLE_MAX:
        return sentence, (remainder + "\n" + rest).strip()
    return first[:TITLE_MAX].rsplit(" ", 1)[0] + " …", text


def read_article(path: Path, default_tz: ZoneInfo) -> Article:
    """Read one file; raises ``OSError``/``UnicodeDecodeError``/``UndatedFileError``."""
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    raw = path.read_bytes().decode("utf-8-sig")
    if "\x00" in raw:
        raise ValueError("binary content (NUL bytes)")
    match = _HEAD.match(raw)
    if not match:
        raise UndatedFileError("no 'date YYYY-MM-DD' at the start of the file")
    published_at, date_only, zone_given = parse_stamp(match.group("stamp"), default_tz)
    title, body = split_title(raw[match.end() :])
    if not title:
        raise ValueError("no text after the date")
    return Article(
        source="files",
        source_id=path.name,
        title=title,
        body=body,
        published_at=published_at,
        date_only=date_only,
        zone_given=zone_given,
        url=None,
    )


class FilesNewsSource:
    """Articles from the text files of one or more folders (not recursive)."""

    name = "files"

    def __init__(self, folders: list[Path], default_tz: ZoneInfo) -> None:
        self.folders = [Path(f) for f in folders]
        self.default_tz = default_tz

    def fetch(self, state: PollState | None = None) -> SourceBatch:
        found: list[Article] = []
        dropped: list[Dropped] = []
        for folder in self.folders:
            if not folder.is_dir():
                log.warning("news folder %s does not exist; skipped (check MONITOR_NEWS_DIRS)", folder)
                continue
            for path in sorted(folder.iterdir()):
                if not path.is_file() or path.suffix.lower() not in SUFFIXES:
                    continue
                try:
                    found.append(read_article(path, self.default_tz))
                except UnicodeDecodeError:
                    dropped.append(Dropped(str(path), "not UTF-8 text"))
                except (OSError, ValueError) as exc:
                    dropped.append(Dropped(str(path), str(exc) or exc.__class__.__name__))
        for d in dropped:
            log.warning("skipped news file %s: %s", d.item, d.reason)
        return SourceBatch(self.name, tuple(found), tuple(dropped))
