"""RSS and Atom feeds as a news source.

:class:`FeedSource` polls one feed URL through :func:`monitor.news.http.fetch`
(the monitor's only URL fetcher, with its address, redirect, time and size
guards) and :func:`parse_feed` turns the document into
:class:`~monitor.models.Article` records. The bytes are parsed by the fast
path below, or by feedparser; feedparser is never given a URL or a string it
could take for a file name, so it never fetches or opens anything itself.

Safety before parsing
---------------------
A document that declares XML entities (``<!ENTITY``: billion laughs,
quadratic blowup, external entities such as ``SYSTEM "file:///etc/passwd"``,
parameter entities) is refused with :class:`~monitor.errors.SourceError`
before any parser (the fast path or feedparser) sees it. Two checks run on
the bytes exactly as they are parsed (after feedparser's conversion to
UTF-8, so UTF-16, UTF-7 or EBCDIC spellings cannot hide a declaration): a
scan for ``<!ENTITY`` anywhere in the document, and defusedxml's expat
parser with ``forbid_entities`` and ``forbid_external`` over the prolog (it
stops at the root element). The scan also refuses a story that quotes ``<!ENTITY`` in a
CDATA section: a rare false alarm, accepted for a check no parser quirk can
get around. A plain ``<!DOCTYPE ...>`` that declares no entities is
allowed (feedparser reads such a document; the fast path never sees a
DTD); an external DTD it names is never read. Refusal is immediate (no
expansion happens) and reads no file.

The fast path, and when feedparser takes over
---------------------------------------------
feedparser reads about 1,200 items a second, too slow for large feeds. So
:func:`parse_feed` first parses a document with expat through ElementTree's
C parser (a DOCTYPE-free document only: entities were refused already, and
without a DTD none can be declared or fetched) and reads each entry from the
tree the way feedparser's handlers would: the same title, links (Atom
``<link rel="alternate" href>``, RSS ``<link>`` text, a permalink ``<guid>``
or Atom ``<id>`` when there is no link), id, summary, content (``html``,
``xhtml`` and ``text`` types, ``content:encoded``), published and updated
values, with the same base URI (``xml:base`` on the root element and the
document's address), namespace prefixes, white space, Latin-1/UTF-8 repair
and Windows-1252 characters. The articles are therefore identical to
feedparser's. It covers RSS 2.0 (``rss/channel/item``), RSS 1.0/RDF and Atom
1.0, with the dc:, content:, media:, Atom and unknown (EDGAR-like)
namespaces. Whatever it does not reproduce exactly it declines, and
feedparser reads the whole document as before: a document that is not
well-formed (also one cut at the size cap), has a DOCTYPE or another root,
puts entries elsewhere, binds a prefix ambiguously, has an ``xml:base`` below
the root, or has an entry with elements whose effect depends on feedparser's
state (``<image>``, ``media:title``, two titles or summaries, markup inside a
text element, base64). An unexpected error in the fast path also falls back
to feedparser (and is logged as a warning). ``parse_feed(engine=...)`` picks
one path for tests and benchmarks (``benchmarks/bench_feed_parse.py``).

Mapping entries to articles
---------------------------
* ``source`` is the source name; ``guid`` the entry's RSS ``guid`` / Atom
  ``id``; ``source_id`` the GUID, else the link, else ``sha256:`` and the
  hash of the title and body.
* ``url`` is the entry's link when it is an absolute http(s) URL (a
  ``javascript:`` or relative link gives None).
* ``title`` and ``body`` are plain text: tags are removed and the text
  between them kept, entities resolved, white space collapsed (block
  elements such as ``<p>`` and ``<br>`` become line breaks in the body).
  Text whose only markup is plain tags (``<p>``, ``<a href="...">``,
  ``<br/>``) is read by a regular expression that gives exactly what
  :class:`html.parser.HTMLParser` gives; anything else (comments, CDATA,
  scripts, odd tags) goes through HTMLParser. The text of ``<script>`` is
  kept as text (a title ``<script>alert(1)</script> Apple beats`` becomes
  ``alert(1) Apple beats``): what a hostile feed sent
  stays visible, but never as markup. Style sheets and ``<template>`` are
  dropped. The stripping is repeated while the result still holds tag-like
  text, so doubly escaped markup (``&amp;lt;b&amp;gt;``) ends as text too:
  no title or body contains anything an HTML parser would read as a tag.
  ``body`` is the entry's content (HTML or text; not Atom ``text/xml``
  payloads such as EDGAR's), else its summary. An entry without a title
  takes the first line or sentence of its body as title.
* ``published_at``: the entry's ``published`` date, else ``updated``, each
  read from the raw text by :func:`parse_date` (feedparser's parsed structs
  are UTC and lose whether a zone was given): RFC 822
  (``Tue, 04 Feb 2025 16:35:00 -0500``, also ``EST``, ``GMT``, ``Z``...),
  ISO 8601 (``2025-02-04T16:35:00Z``) and ``asctime``; other formats count
  as unreadable rather than guessed.
  With a zone: exact, ``zone_given=True``. Without a zone, or with an
  unknown zone name: read in ``default_tz``, ``zone_given=False``. A date
  alone: ``date_only=True`` at 00:00 UTC of that date. Missing or
  unreadable: ``published_at`` is the fetch time and ``undated=True``; the
  article is kept.
* Dropped (with a reason, see :class:`~monitor.news.Dropped`): entries with no
  title, no link and no summary or content; a second entry with the same
  ``source_id`` (same GUID, or same link without GUID) in one document.

Damaged documents
-----------------
A document that is not a feed (HTML page, JSON, plain text, empty) raises
``SourceError("... is not an RSS or Atom feed: <reason>")``. A malformed
feed from which feedparser's lenient parser still recovered entries is kept:
the batch is ``degraded`` with the parser's complaint in ``warning``. A body
cut at the size cap (``max_bytes``) is parsed for what arrived and marked
degraded the same way (its last entry may be cut short); when nothing usable
arrived the error says the cap was hit.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from html import unescape
from html.parser import HTMLParser
from typing import Any, Literal, get_args
from urllib.parse import urlparse, urlsplit
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as defused_etree
import feedparser
from defusedxml import DefusedXmlException
from feedparser.encodings import convert_to_utf8
from feedparser.urls import _urljoin as feedparser_urljoin  # the joins feedparser makes, so both paths agree
from feedparser.urls import make_safe_absolute_uri

from monitor import clock as _clock
from monitor.errors import SourceError
from monitor.models import Article
from monitor.news import Dropped, PollState, SourceBatch
from monitor.news import http
from monitor.news.files import split_title

log = logging.getLogger(__name__)

__all__ = ["Engine", "FastPathUnavailable", "FeedSource", "html_to_text", "parse_date", "parse_feed"]

# -- entity refusal ------------------------------------------------------------------

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


class _RootReached(Exception):
    """The prolog is over: no entity can be declared after the root element starts."""


class _StopAtRoot:
    """ElementTree parser target that stops parsing at the first start tag."""

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        raise _RootReached

    def end(self, tag: str) -> None:  # pragma: no cover - never reached
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _refuse_entities(raw: bytes, utf8: bytes, where: str) -> None:
    """Raise SourceError when the document declares entities (see the module documentation)."""
    refused = SourceError(
        f"{where} declares XML entities (refused: entity expansion and external entities are not allowed); "
        "the document is not a safe feed"
    )
    if _ENTITY_DECLARATION.search(raw) or _ENTITY_DECLARATION.search(utf8):
        raise refused
    parser = defused_etree.DefusedXMLParser(
        target=_StopAtRoot(), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(utf8)
        parser.close()
    except _RootReached:
        return
    except DefusedXmlException:
        raise refused from None
    except Exception:  # noqa: BLE001 - not well-formed: feedparser's lenient parser decides
        return


# -- markup to text ----------------------------------------------------------------

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_DROPPED_TAGS = frozenset({"style", "template"})
_TAG_LIKE = re.compile(r"<[A-Za-z!/?]")
_SOURCE_BREAKS = re.compile(r"[\r\n]+")
#: White space to collapse to one space: runs (other than line breaks), and single
#: characters other than the space itself.
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")
_MAX_STRIP_PASSES = 3


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; ``<br>`` is a line break, other blocks a paragraph."""

    def __init__(self, html: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._html = html  # in HTML, line breaks in the source are spaces
        self._dropping = 0

    def _block(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n" if tag == "br" else "\n\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping += 1
        else:
            self._block(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_TAGS:
            self._dropping = max(0, self._dropping - 1)
        elif tag != "br":
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(_SOURCE_BREAKS.sub(" ", data) if self._html else data)


def _strip_html(value: str) -> str:
    """One stripping pass with :class:`html.parser.HTMLParser` (any input)."""
    parser = _TextExtractor(html=bool(_TAG_LIKE.search(value)))
    parser.feed(value)
    parser.close()
    return "".join(parser.parts)


# A start or end tag in the plain shape almost every feed writes (``<p>``, ``<br/>``,
# ``<a href="x" class=y>``, ``</em >``), which HTMLParser reads the same way: a name of
# ASCII letters and digits, attributes with simple names and values quoted without
# ``<`` or ``>``, or unquoted. Anything else that opens markup sends the pass to HTMLParser.
_SIMPLE_TAG = re.compile(
    r"""<(?:/(?P<end>[A-Za-z][A-Za-z0-9]*)\s*
          |(?P<start>[A-Za-z][A-Za-z0-9]*)
           (?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`]+))?)*
           \s*(?P<slash>/?)
        )>""",
    re.VERBOSE,
)
#: ``<`` that HTMLParser could read as markup (a tag, comment, declaration or processing
#: instruction); any other ``<`` is text to it.
_MARKUP_OPEN = re.compile(r"<[A-Za-z/!?]")
#: Elements whose content HTMLParser reads, or newer versions of it may read, as raw text
#: rather than markup (``<script>``, ``<style>``, ``<textarea>``...): left to HTMLParser.
_RAW_TEXT_TAGS = frozenset({
    *HTMLParser.CDATA_CONTENT_ELEMENTS, *getattr(HTMLParser, "RCDATA_CONTENT_ELEMENTS", ()),
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext",
})


def _strip_simple(value: str) -> str | None:
    """:func:`_strip_html` without HTMLParser, for text whose markup is only simple tags.

    Returns exactly what :func:`_strip_html` returns (same handlers, same
    ``html.unescape`` of the text between tags, same line-break rule), or None
    when the value holds anything else that could open markup (comments,
    CDATA, declarations, tags of another shape, ``<script>`` or ``<style>``):
    the caller then takes the HTMLParser pass.
    """
    if "<" not in value:  # no markup: HTMLParser passes the text on in one piece, unescaped
        return unescape(value) if "&" in value else value
    html = _TAG_LIKE.search(value) is not None
    pieces = _SIMPLE_TAG.split(value)  # text, then per tag (end name, start name, slash, text after it)
    parts: list[str] = []
    dropping = 0
    for index in range(0, len(pieces), 4):
        text = pieces[index]
        if text:
            if "<" in text and _MARKUP_OPEN.search(text):
                return None
            if not dropping:  # _TextExtractor.handle_data
                if "&" in text:
                    text = unescape(text)
                if html and ("\n" in text or "\r" in text):
                    text = _SOURCE_BREAKS.sub(" ", text)
                parts.append(text)
        if index + 1 == len(pieces):
            break
        end, start, slash = pieces[index + 1 : index + 4]
        tag = (end or start).lower()
        if tag in _RAW_TEXT_TAGS:
            return None
        if end is not None:  # handle_endtag
            if tag in _DROPPED_TAGS:
                dropping = max(0, dropping - 1)
            elif tag in _BLOCK_TAGS and tag != "br":
                parts.append("\n\n")
        elif tag in _DROPPED_TAGS and not slash:  # handle_starttag of a dropped element
            dropping += 1
        elif tag in _BLOCK_TAGS:  # handle_starttag, handle_startendtag
            parts.append("\n" if tag == "br" else "\n\n")
    return "".join(parts)


def _strip_once(value: str) -> str:
    """One stripping pass: the simple-tag reader when it can, else HTMLParser."""
    simple = _strip_simple(value)
    return simple if simple is not None else _strip_html(value)


def html_to_text(value: object, *, one_line: bool = False) -> str:
    """Plain text of a string that may hold HTML (see the module documentation).

    Parameters
    ----------
    value
        Text or HTML; anything that is not a string gives ``""``.
    one_line
        Collapse all white space, line breaks included (for titles).

    Returns
    -------
    str
        Text without tags: entities resolved, runs of spaces collapsed, at
        most one empty line between paragraphs, no leading or trailing space.
    """
    if not isinstance(value, str) or not value.strip():
        return ""
    text = value
    for _ in range(_MAX_STRIP_PASSES):
        text = _strip_once(text)
        if not _TAG_LIKE.search(text):
            break
    else:
        text = re.sub(r"<[^>]*>?", " ", text)  # still tag-like after three passes: cut what remains
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    if one_line:
        return " ".join(text.split())
    # runs of white space other than line breaks become one space, so stripping every
    # line is removing a space before and after each line break
    text = _SPACES.sub(" ", text).replace(" \n", "\n").replace("\n ", "\n")
    if "\n\n\n" in text:  # lines hold no white space at their ends now: blank lines are bare
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


# -- dates ---------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
#: Zone names read as exact offsets (RFC 822 names and a few common abbreviations);
#: ambiguous ones (IST, CST-as-China...) are not guessed: such a time is read in the default zone.
ZONE_NAMES: dict[str, int] = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "JST": 9, "HKT": 8, "SGT": 8, "AEST": 10, "AEDT": 11,
}
_RFC822 = re.compile(
    r"""^\s*(?:[A-Za-z]{2,9}\.?\s*,?\s*)?
    (?P<day>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3,9})\.?[\s-]+(?P<year>\d{4}|\d{2})
    (?:[\sT]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?
       (?:\s*(?P<zone>[+-]\d{2}:?\d{2}|[A-Za-z]{1,5}))?)?\s*$""",
    re.VERBOSE,
)
_ISO = re.compile(
    r"""^\s*(?P<year>\d{4})(?P<sep>[-/])(?P<month>\d{2})(?P=sep)(?P<day>\d{2})
    (?:[Tt\s]\s*(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
       \s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5})?)?\s*$""",
    re.VERBOSE,
)
_ASCTIME = re.compile(
    r"^\s*[A-Za-z]{3}\s+(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})"
    r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s+(?P<year>\d{4})\s*$"
)


class _Unreadable(ValueError):
    """A date string none of the parsers can read."""


def _offset(zone: str | None) -> timezone | None:
    """The fixed zone a zone token names, or None when there is none or it is unknown."""
    if not zone:
        return None
    return _zone(zone)


@lru_cache(maxsize=512)
def _zone(zone: str) -> timezone | None:
    """:func:`_offset` of a non-empty token (cached: a feed repeats a handful of zones)."""
    name = zone.upper()
    if name in ZONE_NAMES:
        return timezone(timedelta(hours=ZONE_NAMES[name]))
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", zone)
    if not match:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 23 or minutes > 59:
        raise _Unreadable(f"offset {zone} out of range")
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _place(naive: datetime, zone: str | None, default_tz: ZoneInfo) -> tuple[datetime, bool, bool]:
    tz = _offset(zone)
    if tz is None:
        return naive.replace(tzinfo=default_tz).astimezone(timezone.utc), False, False
    return naive.replace(tzinfo=tz).astimezone(timezone.utc), False, True


def _parse_rfc822(text: str, default_tz: ZoneInfo) -> tuple[datetime, bool, bool] | None:
    match = _RFC822.match(text)
    if not match:
        return None
    month = _MONTHS.get(match["mon"][:3].lower())
    if month is None:
        raise _Unreadable(f"unknown month {match['mon']!r}")
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 2000 if year < 50 else 1900
    try:
        day = date(year, month, int(match["day"]))
        if match["hour"] is None:
            return datetime.combine(day, time(0), tzinfo=timezone.utc), True, False
        moment = datetime.combine(day, time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0)))
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None
    return _place(moment, match["zone"], default_tz)


def _parse_iso(text: str, default_tz: ZoneInfo) -> tuple[datetime, bool, bool] | None:
    match = _ISO.match(text)
    if not match:
        return None
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
        if match["hour"] is None:
            return datetime.combine(day, time(0), tzinfo=timezone.utc), True, False
        micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
        moment = datetime.combine(day, time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0), micro))
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None
    return _place(moment, match["zone"], default_tz)


def _parse_asctime(text: str, default_tz: ZoneInfo) -> tuple[datetime, bool, bool] | None:
    match = _ASCTIME.match(text)
    if not match:
        return None
    month = _MONTHS.get(match["mon"].lower())
    if month is None:
        raise _Unreadable(f"unknown month {match['mon']!r}")
    try:
        moment = datetime(
            int(match["year"]), month, int(match["day"]), int(match["hour"]), int(match["minute"]), int(match["second"])
        )
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None
    return _place(moment, None, default_tz)


def parse_date(raw: object, default_tz: ZoneInfo) -> tuple[datetime, bool, bool] | None:
    """Read a feed date from its raw text.

    RFC 822 / RFC 2822 (``Tue, 04 Feb 2025 16:35:00 -0500``, zone names in
    :data:`ZONE_NAMES`, RFC 850's ``Tuesday, 04-Feb-25``), ISO 8601 / W3C-DTF
    (``2025-02-04T16:35:00Z``, also with ``/`` between the date parts) and
    C ``asctime`` (``Tue Feb  4 16:35:00 2025``) are read. Anything else is
    unreadable rather than guessed: feedparser's lenient ``*_parsed`` readers
    turn ``2025/02/04 16:35:00 +0100`` into 1 November 2025, and a wrong date
    would put an article in the wrong trading session.

    Parameters
    ----------
    raw
        The date as the feed wrote it (feedparser's ``published``/``updated``).
    default_tz
        The zone a time without zone (or with an unknown zone name) is read in.

    Returns
    -------
    tuple of (datetime, bool, bool) or None
        ``(published_at in UTC, date_only, zone_given)``, or None when the
        date is missing or unreadable.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        for reader in (_parse_rfc822, _parse_iso, _parse_asctime):
            found = reader(raw, default_tz)
            if found is not None:
                return found
    except _Unreadable as exc:
        log.debug("unreadable date %r: %s", raw, exc)
    return None


# -- entries -------------------------------------------------------------------------

_TEXT_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "html", "xhtml", "text", ""})
#: An http(s) URL of printable ASCII whose host part holds no brackets: urlsplit reads
#: its scheme and a non-empty host from it without complaint.
_PLAIN_HTTP_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~!$&'()*+,;=:@%-]+(?:[/?#][!-~]*)?")


def _http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    url = value.strip()
    if _PLAIN_HTTP_URL.fullmatch(url):  # what urlsplit would accept; saves its cost on almost every link
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _body_of(entry: Mapping[str, Any]) -> str:
    for content in entry.get("content") or ():
        if (content.get("type") or "").lower() in _TEXT_CONTENT_TYPES:
            text = html_to_text(content.get("value"))
            if text:
                return text
    return html_to_text(entry.get("summary"))


def _entry_article(
    entry: Mapping[str, Any], *, source: str, default_tz: ZoneInfo, fetched_at: datetime
) -> Article | str:
    """The entry as an Article, or the reason it cannot be one."""
    title = html_to_text(entry.get("title"), one_line=True)
    body = _body_of(entry)
    url = _http_url(entry.get("link"))
    raw_guid = entry.get("id")
    guid = raw_guid.strip() if isinstance(raw_guid, str) and raw_guid.strip() else None
    if not title and not body and url is None:
        return "no title, no link and no summary"
    if not title and body:
        head, rest = split_title(body)
        title = " ".join(head.split())
        body = rest if rest else body
    published = None
    for key in ("published", "updated"):
        # dict.get: FeedParserDict.get("updated") falls back to "published" with a DeprecationWarning
        published = parse_date(dict.get(entry, key), default_tz)
        if published is not None:
            break
    if published is None:
        published_at, date_only, zone_given, undated = fetched_at, False, False, True
    else:
        (published_at, date_only, zone_given), undated = published, False
    source_id = guid or url or "sha256:" + hashlib.sha256(f"{title}\n{body}".encode("utf-8")).hexdigest()
    return Article(
        source=source,
        source_id=source_id,
        title=title,
        body=body,
        published_at=published_at,
        date_only=date_only,
        zone_given=zone_given,
        url=url,
        guid=guid,
        undated=undated,
    )


@dataclass(frozen=True)
class _Parsed:
    """A document as :func:`parse_feed` uses it, from feedparser or from the fast path."""

    entries: Sequence[Mapping[str, Any]]
    version: str  #: feedparser's name of the format ("rss20", "atom10"...), "" when it found none
    bozo: bool = False  #: not well-formed (feedparser's lenient parser recovered what it could)
    bozo_exception: object = None


# -- the fast path: expat's tree, read the way feedparser reads it ----------------------
#
# feedparser is a SAX state machine: every element name is mapped to a handler, and
# handlers change shared state (which title wins, whether a <description> becomes
# content, where relative links resolve). The reader below handles a vocabulary that
# covers real feeds (RSS 2.0, RSS 1.0/RDF, Atom 1.0 with the dc:, content:, media:
# and other common modules) and reproduces, for each entry, the values feedparser
# gives the keys _entry_article reads: title, link, id, summary, content, published
# and updated. Whatever it does not reproduce exactly it declines (FastPathUnavailable)
# and parse_feed falls back to feedparser.

#: What parse_feed parses with: ``"auto"`` (the fast path, feedparser when the fast
#: path declines), ``"fast"`` (the fast path only) or ``"feedparser"``.
Engine = Literal["auto", "fast", "feedparser"]
ENGINES: tuple[str, ...] = get_args(Engine)


class FastPathUnavailable(SourceError):
    """The fast path cannot read a document exactly as feedparser would.

    Raised by :func:`parse_feed` with ``engine="fast"`` only; with ``"auto"``
    the document is read by feedparser instead. The message says why (not
    well-formed, a DOCTYPE, an element or structure the fast path does not
    reproduce).
    """


_FEEDPARSER = feedparser.api.StrictFeedParser
#: Namespace URI (lower case) -> feedparser's prefix for it ("" for RSS and Atom themselves).
_FP_NAMESPACES: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FEEDPARSER.namespaces.items()}
_FP_PREFIXES = frozenset(prefix.lower() for prefix in _FP_NAMESPACES.values() if prefix)
#: Element names (``dc_date`` for dc:date) feedparser has a start or end handler for.
_FP_HANDLERS = frozenset(
    name.split("_", 2)[2] for name in dir(_FEEDPARSER) if name.startswith(("_start_", "_end_"))
)
_NETSCAPE_RSS = "http://my.netscape.com/rdf/simple/0.9/"
_RSS_10 = "http://purl.org/rss/1.0/"
_ATOM_10 = "http://www.w3.org/2005/Atom"
_XHTML_TYPE = "application/xhtml+xml"
_HTML_TYPES = frozenset({"text/html", _XHTML_TYPE})

# What an element is to the reader, by feedparser's handler name.
_ENTRY, _TITLE, _LINK, _ID, _SUMMARY, _CONTENT, _PUBLISHED, _UPDATED = range(8)
_HARMLESS, _INERT, _UNSUPPORTED = range(8, 11)
_KINDS: dict[str, int] = {
    "item": _ENTRY, "entry": _ENTRY,
    "title": _TITLE, "dc_title": _TITLE,
    "link": _LINK,
    "guid": _ID, "id": _ID,
    "description": _SUMMARY, "dc_description": _SUMMARY, "summary": _SUMMARY, "abstract": _SUMMARY,
    "itunes_summary": _SUMMARY,
    "content": _CONTENT, "content_encoded": _CONTENT,
    "published": _PUBLISHED, "pubdate": _PUBLISHED, "issued": _PUBLISHED, "dcterms_issued": _PUBLISHED,
    "updated": _UPDATED, "modified": _UPDATED, "lastbuilddate": _UPDATED, "dc_date": _UPDATED,
    "dcterms_modified": _UPDATED,
}
#: The type feedparser assumes when a text element gives none.
_DEFAULT_TYPES = {
    "title": "text/plain", "dc_title": "text/plain", "description": "text/html", "dc_description": "text/html",
    "summary": "text/plain", "abstract": "text/plain", "itunes_summary": "text/plain",
    "content": "text/plain", "content_encoded": "text/html",
}
#: Handlers that store only under keys the articles do not read and leave the parser's
#: state as they found it (authors, categories, enclosures, media, RSS <source>).
_HARMLESS_HANDLERS = frozenset({
    "author", "dc_author", "dc_creator", "itunes_author", "managingeditor", "name", "email", "url", "uri",
    "homepage", "contributor", "dc_contributor", "category", "keywords", "dc_subject", "media_category",
    "enclosure", "media_content", "media_thumbnail", "media_credit", "media_group", "source",
    "created", "dcterms_created", "expirationdate",
})
#: Handlers that put feedparser in "content" mode (``push_content``): inside these it
#: writes child elements out as markup, yet still calls their end handlers.
_TEXT_CONSTRUCT_HANDLERS = frozenset({
    *_DEFAULT_TYPES, "media_title", "media_description", "fullitem", "body", "xhtml_body", "subtitle", "tagline",
    "itunes_subtitle", "rights", "copyright", "dc_rights", "info", "feedburner_browserfriendly",
})
_AMPERSAND_NAME = re.compile("&([A-Za-z0-9_]+);")
#: An absolute http(s) URL that urllib's urljoin returns as it is, whatever the base: a
#: lower-case scheme, a host part, and a path without ``;params``, non-empty query and
#: fragment when their ``?`` or ``#`` is there, printable ASCII only.
_CANONICAL_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9._~!$&'()*+,=:@%-]+(?:/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?(?:\?[\x21\x22\x24-\x7e]+)?(?:#[\x21-\x7e]+)?"
)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_BASE_ATTRIBUTE = re.compile(rb"base\s*=", re.IGNORECASE)
#: feedparser's map of the C1 controls to the Windows-1252 characters they stand for.
_CP1252 = {code: bytes([code]).decode("cp1252") for code in range(0x80, 0xA0) if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _content_type(value: str) -> str:
    """feedparser's ``map_content_type``: short Atom names to MIME types."""
    value = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": _XHTML_TYPE}.get(value, value)


def _fixed_text(value: str, *, also: Iterable[str] = ()) -> str:
    """What feedparser does to every stored text after stripping it.

    UTF-8 that was decoded as Latin-1 somewhere upstream is repaired (when the
    whole text, and the ``also`` strings feedparser sees with it, encodes to
    Latin-1 and those bytes are valid UTF-8), then C1 controls become the
    Windows-1252 characters they stand for.
    """
    if value.isascii():
        return value
    try:
        repaired = value.encode("iso-8859-1").decode("utf-8")
        for other in also:
            if not other.isascii():
                other.encode("iso-8859-1").decode("utf-8")
    except UnicodeError:
        repaired = value
    return repaired.translate(_CP1252)


def _next_base(current: str, given: str | None) -> str:
    """feedparser's base URI of an element, from its parent's and its own ``xml:base``."""
    candidate = given or current
    if current:
        return make_safe_absolute_uri(current, candidate) or current
    return feedparser_urljoin(current, candidate)


class _FeedReader:
    """Reads one parsed document's entries the way feedparser would.

    Parameters
    ----------
    bindings
        The document's namespace declarations ``(prefix, uri)`` in document
        order (``""`` is the default namespace), as expat reported them.
    base_url
        Where the document came from (feedparser's ``Content-Location``).

    Raises
    ------
    FastPathUnavailable
        From the constructor or :meth:`read`: the document uses something the
        reader does not reproduce exactly.
    """

    def __init__(self, bindings: list[tuple[str, str]], base_url: str | None) -> None:
        self._base_url = base_url or ""
        self._base = ""
        self._base_parses = False
        self._names: dict[str, tuple[str, str, int]] = {}
        self._unknown: dict[str, str] = {}  # namespace feedparser does not know -> the prefix it is named by
        self.version = ""
        self._read_bindings(bindings)

    @staticmethod
    def _decline(reason: str) -> FastPathUnavailable:
        return FastPathUnavailable(f"the fast feed parser cannot read this document: {reason}")

    def _read_bindings(self, bindings: list[tuple[str, str]]) -> None:
        """Name the namespaces as feedparser does; decline where its names would depend on order."""
        uris_of: dict[str, set[str]] = {}
        prefixes_of: dict[str, set[str]] = {}
        known_prefixes: set[str] = set()
        for prefix, uri in bindings:
            if not uri:  # xmlns="": feedparser ignores it too
                continue
            lowered = uri.lower()
            if not self.version:
                if prefix == "" and lowered == _NETSCAPE_RSS:
                    self.version = "rss090"
                elif lowered == _RSS_10:
                    self.version = "rss10"
                elif lowered == _ATOM_10.lower():
                    self.version = "atom10"
            if prefix:
                uris_of.setdefault(prefix, set()).add(uri)
            known = self._known_prefix(uri)
            if known is None:
                prefixes_of.setdefault(uri, set()).add(prefix)
            elif prefix:
                if prefix != known and prefix.lower() in _FP_PREFIXES:
                    raise self._decline(f"the prefix {prefix!r} names {uri}, feedparser uses it for another namespace")
                known_prefixes.add(prefix.lower())
        for prefix, uris in uris_of.items():
            if len(uris) > 1:
                raise self._decline(f"the prefix {prefix!r} names more than one namespace")
        for uri, prefixes in prefixes_of.items():
            if len(prefixes) > 1:
                raise self._decline(f"the namespace {uri} has more than one prefix")
            (prefix,) = prefixes
            if prefix and (prefix.lower() in _FP_PREFIXES or prefix.lower() in known_prefixes):
                raise self._decline(f"the prefix {prefix!r} of {uri} is one feedparser gives another meaning")
            self._unknown[uri] = prefix

    @staticmethod
    def _known_prefix(uri: str) -> str | None:
        lowered = uri.lower()
        if "backend.userland.com/rss" in lowered:
            return ""
        return _FP_NAMESPACES.get(lowered)

    def _name(self, tag: str) -> tuple[str, str, int]:
        """``(name, handler, kind)`` of an element: ``dc:date``, ``dc_date``, :data:`_UPDATED`."""
        found = self._names.get(tag)
        if found is None:
            if tag[:1] == "{":
                uri, _, local = tag[1:].rpartition("}")  # a name has no "}", a URI may
                prefix = self._known_prefix(uri)
                if prefix is None:
                    prefix = self._unknown.get(uri)
                    if prefix is None:
                        raise self._decline(f"no prefix for the namespace {uri}")
            else:
                prefix, local = "", tag
            name = f"{prefix}:{local}".lower() if prefix else local.lower()
            handler = name.replace(":", "_", 1)
            kind = _KINDS.get(handler)
            if kind is None:
                if handler in _HARMLESS_HANDLERS:
                    kind = _HARMLESS
                elif handler in _FP_HANDLERS:
                    kind = _UNSUPPORTED
                else:
                    kind = _INERT
            found = self._names[tag] = (name, handler, kind)
        return found

    def _attributes(self, element: ElementTree.Element) -> dict[str, str]:
        """The attributes as feedparser's handlers see them (lower-case names, ``rel``/``type`` values)."""
        attributes: dict[str, str] = {}
        for key, value in element.items():  # items(), not attrib: attrib makes a dict for every element
            if key[:1] == "{":
                uri, _, local = key[1:].rpartition("}")
                local = local.lower()
                prefix = _FP_NAMESPACES.get(uri.lower())
                if prefix:
                    attributes[f"{prefix}:{local}".lower()] = value
            else:
                local = key.lower()
            if local in attributes:
                raise self._decline(f"two attributes named {local!r} on one element")
            attributes[local] = value.lower() if local in ("rel", "type") else value
        return attributes

    # -- the document ------------------------------------------------------------------

    def read(self, root: ElementTree.Element, *, check_bases: bool) -> list[dict[str, Any]]:
        """The entries of the document whose root element is ``root``.

        Parameters
        ----------
        root
            The parsed document.
        check_bases
            Whether any element may carry an ``xml:base`` (or ``base``)
            attribute; when false the per-element check is skipped.

        Returns
        -------
        list of dict
            One mapping per entry, in document order, with the keys feedparser
            would give (those it would leave out are left out).
        """
        name, _handler, _kind = self._name(root.tag)
        attributes = self._attributes(root)
        if name == "rss":
            channels = [child for child in root if self._name(child.tag)[0] == "channel"]
            if len(channels) != 1:
                raise self._decline("an RSS document without exactly one <channel>")
            container, depth = channels[0], 3
            if not self.version.startswith("rss"):
                given = attributes.get("version", "")
                versions = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
                self.version = versions.get(given) or ("rss20" if given.startswith("2.") else "rss")
        elif name == "rdf:rdf" or (name == "feed" and root.tag == f"{{{_ATOM_10}}}feed"):
            container, depth = root, 2
            if not self.version and name == "feed":
                self.version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(attributes.get("version", ""), "atom")
        else:
            raise self._decline(f"the root element <{name}> is not RSS 2.0, RSS 1.0 or Atom 1.0")

        # the base URI of the elements inside an entry: only the root may set one
        base = _next_base(self._base_url, attributes.get("xml:base", attributes.get("base")))
        for _ in range(depth):  # container, entry, the entry's child
            base = _next_base(base, None)
        self._base = base
        try:
            urlparse(base)
            self._base_parses = True
        except ValueError:  # feedparser's join would give "" for every link
            self._base_parses = False
        names = self._names
        items = [child for child in container if (names.get(child.tag) or self._name(child.tag))[2] == _ENTRY]
        everywhere = 0
        for element in root.iter():
            if (names.get(element.tag) or self._name(element.tag))[2] == _ENTRY:
                everywhere += 1
            if check_bases and element is not root:
                for key in element.keys():
                    if key.rpartition("}")[2].lower() == "base":
                        raise self._decline("an xml:base below the root element")
        if everywhere != len(items):
            raise self._decline(f"an item or entry that is not a child of <{self._name(container.tag)[0]}>")
        self._check_feed_level(root)
        return [self._entry(item) for item in items]

    def _check_feed_level(self, element: ElementTree.Element) -> None:
        """Decline feed-level markup that would leave feedparser in another state for the entries.

        A feed-level text construct (a channel ``<description>``, an Atom
        ``<subtitle type="xhtml">``) with child elements is written out as
        markup by feedparser, which still calls the children's end handlers:
        a ``<title>`` in there would unbalance its content state for every
        entry after it. Such children must have no handlers.
        """
        names = self._names
        for child in element:
            _name, handler, kind = names.get(child.tag) or self._name(child.tag)
            if kind == _ENTRY or not len(child):
                continue
            if handler in _TEXT_CONSTRUCT_HANDLERS:
                for inner in child.iter():
                    if inner is not child and (names.get(inner.tag) or self._name(inner.tag))[1] in _FP_HANDLERS:
                        raise self._decline(f"<{inner.tag}> inside the feed's <{child.tag}>")
            else:
                self._check_feed_level(child)

    # -- entries -------------------------------------------------------------------------

    def _entry(self, item: ElementTree.Element) -> dict[str, Any]:
        """One entry's mapping (feedparser's handlers replayed child by child)."""
        entry: dict[str, Any] = {}
        if item.keys():
            attributes = self._attributes(item)
            if "lastmod" in attributes or "href" in attributes:
                raise self._decline("an entry with a CDF lastmod or href attribute")
            about = attributes.get("rdf:about")
            if about:
                entry["id"] = about
        titles = summaries = 0
        names = self._names
        for child in item:
            _name, handler, kind = names.get(child.tag) or self._name(child.tag)
            if kind == _TITLE:
                titles += 1
                entry["title"] = self._text_construct(child, handler)
            elif kind == _SUMMARY:
                summaries += 1
                entry["summary"] = self._text_construct(child, handler)
            elif kind == _CONTENT:
                self._content(child, handler, entry)
            elif kind == _LINK:
                self._link(child, entry)
            elif kind == _ID:
                self._id(child, entry)
            elif kind == _PUBLISHED or kind == _UPDATED:
                entry["published" if kind == _PUBLISHED else "updated"] = self._text(child)
            elif kind == _HARMLESS or kind == _INERT:
                if len(child):
                    self._check_harmless(child)
            else:
                raise self._decline(f"<{child.tag}> in an entry")
        if titles > 1 or summaries > 1:
            # which one feedparser keeps depends on order, depth and other elements
            raise self._decline("an entry with more than one title or summary")
        return entry

    def _check_harmless(self, element: ElementTree.Element) -> None:
        """Decline an element whose descendants are not all harmless or without handlers.

        A ``<source>`` must hold no elements: feedparser's is not reentrant
        (an inner one ends the outer one's context early).
        """
        for inner in element.iter():
            _name, handler, kind = self._names.get(inner.tag) or self._name(inner.tag)
            if kind not in (_HARMLESS, _INERT):
                raise self._decline(f"<{inner.tag}> inside <{element.tag}>")
            if handler == "source" and len(inner):
                raise self._decline(f"elements inside <{inner.tag}>")

    def _plain_text(self, element: ElementTree.Element) -> str:
        if len(element):
            raise self._decline(f"markup inside <{element.tag}>")
        return element.text or ""

    def _text(self, element: ElementTree.Element) -> str:
        """feedparser's value of a text-only element: stripped, then :func:`_fixed_text`."""
        if len(element):
            raise self._decline(f"markup inside <{element.tag}>")
        text = element.text
        if not text:
            return ""
        text = text.strip()
        return text if text.isascii() else _fixed_text(text)

    def _resolve(self, uri: str) -> str:
        """feedparser's ``resolve_uri``: ``uri`` joined to the base URI."""
        if self._base_parses and _CANONICAL_HTTP_URL.fullmatch(uri):
            return uri  # absolute, and unchanged by urljoin's split and re-join
        return feedparser_urljoin(self._base, uri)

    def _link(self, element: ElementTree.Element, entry: dict[str, Any]) -> None:
        """feedparser's ``_start_link``: an ``href`` (Atom) or the element's text (RSS)."""
        if len(element):
            raise self._decline(f"markup inside <{element.tag}>")
        attributes = self._attributes(element)
        if not attributes:  # RSS: the link is the text
            value = self._plain_text(element).strip()
            entry["link"] = self._link_text(self._resolve(value) if value else value)
            return
        rel = attributes.get("rel", "alternate")
        kind = attributes.get("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attributes.get("url", attributes.get("uri", attributes.get("href")))
        if href:
            attributes["href"] = href
        if "href" in attributes:
            if rel == "alternate" and _content_type(kind) in _HTML_TYPES:
                entry["link"] = self._resolve(attributes["href"])
            return
        value = self._plain_text(element).strip()
        entry["link"] = self._link_text(self._resolve(value) if value else value)

    @staticmethod
    def _link_text(value: str) -> str:
        """feedparser's last touches to a link given as text."""
        value = _fixed_text(value)
        if "&" in value:  # its repair of query strings it once took for entity references
            value = _AMPERSAND_NAME.sub(r"&\1", value.replace("&amp;", "&"))
        return value

    def _id(self, element: ElementTree.Element, entry: dict[str, Any]) -> None:
        """feedparser's ``_start_guid``/``_end_guid``: the id, and the link when it is a permalink."""
        permalink = self._attributes(element).get("ispermalink", "true") == "true"
        value = self._plain_text(element).strip()
        if value and permalink:
            value = self._resolve(value)
        value = _fixed_text(value)
        entry["id"] = value
        if permalink:
            entry.setdefault("link", value)

    def _text_construct(self, element: ElementTree.Element, handler: str) -> str:
        """A title or summary: its text, or its XHTML markup, as feedparser stores it."""
        attributes = self._attributes(element)
        if not attributes:  # the default type is text or HTML
            return self._text(element)
        kind = _content_type(attributes.get("type", _DEFAULT_TYPES[handler]))
        if self._base64(attributes, kind):
            raise self._decline(f"base64 content in <{element.tag}>")
        if kind == _XHTML_TYPE:
            return self._xhtml(element)
        return self._text(element)

    def _content(self, element: ElementTree.Element, handler: str, entry: dict[str, Any]) -> None:
        """Add an entry's content when it is text (other types never reach the body)."""
        attributes = self._attributes(element)
        kind = _content_type(attributes.get("type", _DEFAULT_TYPES[handler]))
        if kind not in _TEXT_CONTENT_TYPES:
            if len(element):
                if not kind.endswith("xml"):  # feedparser would take the markup for XHTML and keep it
                    raise self._decline(f"markup inside <{element.tag}> of type {kind}")
                for inner in element.iter():
                    if inner is not element and self._name(inner.tag)[2] != _INERT:
                        raise self._decline(f"<{inner.tag}> inside <{element.tag}>")
            return
        if self._base64(attributes, kind):
            raise self._decline(f"base64 content in <{element.tag}>")
        value = self._xhtml(element) if kind == _XHTML_TYPE else self._text(element)
        entry.setdefault("content", []).append({"type": kind, "value": value})

    @staticmethod
    def _base64(attributes: Mapping[str, str], kind: str) -> bool:
        """feedparser's ``_is_base64``: it would try to decode the text as base64."""
        if attributes.get("mode", "") == "base64":
            return True
        return not (kind.startswith("text/") or kind.endswith("+xml") or kind.endswith("/xml"))

    def _xhtml(self, element: ElementTree.Element) -> str:
        """Inline XHTML as feedparser serialises it (attributes aside: they never reach the text).

        Text is escaped, each element becomes ``<name>...</name>`` with its
        prefix dropped, and in Atom 1.0 a ``<div>`` wrapping everything is
        removed, as feedparser does.
        """
        pieces: list[str] = []
        values: list[str] = []  # attribute values: they take part in feedparser's UTF-8 repair

        def serialise(node: ElementTree.Element) -> None:
            name, handler, _kind = self._name(node.tag)
            local = name.partition(":")[2] or name
            if handler in _FP_HANDLERS or local in ("svg", "math") or not local.isascii():
                raise self._decline(f"<{node.tag}> in XHTML content")
            for key, value in node.items():
                if not key.isascii():
                    raise self._decline(f"attribute {key!r} in XHTML content")
                values.append(value)
            pieces.append(f"<{local}>")
            if node.text:
                pieces.append(xml_escape(node.text))
            for inner in node:
                serialise(inner)
            pieces.append(f"</{local}>")
            if node.tail:
                pieces.append(xml_escape(node.tail))

        if element.text:
            pieces.append(xml_escape(element.text))
        for child in element:
            serialise(child)
        if self.version == "atom10":
            _unwrap_div(pieces)
        return _fixed_text("".join(pieces).strip(), also=values)


def _unwrap_div(pieces: list[str]) -> None:
    """Remove a ``<div>`` that wraps all of an Atom XHTML construct (feedparser's rule, in place)."""
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    return  # the first <div> closes before the end: not a wrapper
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        pieces[:] = pieces[1:-1]


def _fast_parse(utf8: bytes, base_url: str | None) -> _Parsed:
    """The entries of a well-formed feed, read with expat as feedparser would read them.

    Parameters
    ----------
    utf8
        The document after feedparser's conversion to UTF-8, entities refused.
    base_url
        Where the document came from.

    Returns
    -------
    _Parsed
        The entries and feedparser's version name; never bozo.

    Raises
    ------
    FastPathUnavailable
        The document has a DOCTYPE (never given to this parser: a DTD is what
        entities and external references need), is not well-formed, or holds
        something the reader does not reproduce exactly.
    """
    if _DOCTYPE.search(utf8):
        raise FastPathUnavailable("the fast feed parser cannot read this document: it has a DOCTYPE")
    bindings: list[tuple[str, str]] = []
    try:
        events = ElementTree.iterparse(io.BytesIO(utf8), events=("start-ns",))
        for _event, binding in events:
            bindings.append(binding)  # type: ignore[arg-type]
    except ElementTree.ParseError as exc:
        raise FastPathUnavailable(f"the fast feed parser cannot read this document: not well-formed XML ({exc})") from None
    root = events.root  # type: ignore[attr-defined]
    reader = _FeedReader(bindings, base_url)
    entries = reader.read(root, check_bases=_BASE_ATTRIBUTE.search(utf8) is not None)
    return _Parsed(entries, reader.version)


# -- documents -----------------------------------------------------------------------


def _describe(exc: object) -> str:
    """One line from feedparser's bozo exception."""
    if exc is None:
        return "unknown problem"
    message = getattr(exc, "getMessage", None)
    text = message() if callable(message) else str(exc)
    line = getattr(exc, "getLineNumber", None)
    if callable(line):
        try:
            text += f" at line {line()}, column {exc.getColumnNumber()}"  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - positions are a courtesy
            pass
    return " ".join(str(text).split()) or exc.__class__.__name__


_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")


def _not_a_feed_reason(body: bytes, parsed: _Parsed) -> str:
    head = _XML_DECLARATION.sub(b"", body.lstrip(), count=1).lstrip()[:512].lower()
    if head.startswith((b"{", b"[")):
        return "the body looks like JSON (JSON Feed is not supported)"
    if b"<html" in head or b"<!doctype html" in head:
        return "the body looks like an HTML page"
    if parsed.bozo:
        return f"not well-formed XML ({_describe(parsed.bozo_exception)})"
    return "no <rss>, <feed> or RDF root element"


def _feedparser_parse(utf8: bytes, base_url: str | None) -> _Parsed:
    """The document as feedparser reads it (lenient with malformed XML)."""
    # the bytes are UTF-8 now (feedparser's own conversion, which rewrote the XML declaration);
    # saying so keeps feedparser from flagging a missing Content-Type
    headers = {"content-type": "application/xml; charset=utf-8"}
    if base_url:
        headers["content-location"] = base_url
    # a stream, never a str or bytes: feedparser would fetch a string that looks like
    # a URL and open one that names a file
    parsed = feedparser.parse(io.BytesIO(utf8), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    return _Parsed(
        parsed.get("entries") or [], parsed.get("version") or "", bool(parsed.get("bozo")), parsed.get("bozo_exception")
    )


def parse_feed(
    body: bytes,
    *,
    source: str,
    default_tz: ZoneInfo,
    fetched_at: datetime,
    base_url: str | None = None,
    engine: Engine = "auto",
) -> SourceBatch:
    """Parse an RSS or Atom document into a batch of articles.

    Parameters
    ----------
    body
        The document's bytes (any encoding feedparser detects).
    source
        The source name, stored in each article's ``source``.
    default_tz
        The zone times without a zone are read in.
    fetched_at
        When the document was fetched (aware); undated entries get it.
    base_url
        Where the document came from: named in messages and used to make
        relative links absolute.
    engine
        ``"auto"`` (the default): the fast path, and feedparser for any
        document the fast path declines (see the module documentation).
        ``"fast"``: the fast path only. ``"feedparser"``: feedparser only.
        Both paths give the same batch; the choice exists for tests and
        benchmarks.

    Returns
    -------
    SourceBatch
        Articles, dropped entries with reasons, ``degraded``/``warning``
        when the document was malformed but entries were recovered. ``state``
        is None (the caller knows the HTTP validators).

    Raises
    ------
    SourceError
        The document declares XML entities, or it is not an RSS or Atom feed
        (empty, HTML, JSON, not XML, or malformed with no entries).
    FastPathUnavailable
        With ``engine="fast"``: the fast path cannot read the document.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    where = f"feed source {source!r}" + (f" at {base_url}" if base_url else "")
    if not isinstance(body, bytes | bytearray):
        raise TypeError(f"parse_feed takes the document's bytes, not {type(body).__name__}")
    if not body.strip():
        raise SourceError(f"{where} is not an RSS or Atom feed: the body is empty; check the feed address")
    encoding_info: dict[str, Any] = {}
    utf8 = convert_to_utf8({}, bytes(body), encoding_info)
    _refuse_entities(bytes(body), utf8, where)  # first, whatever the engine

    parsed: _Parsed | None = None
    if engine != "feedparser" and encoding_info.get("encoding"):
        try:
            parsed = _fast_parse(utf8, base_url)
        except FastPathUnavailable as exc:
            if engine == "fast":
                raise FastPathUnavailable(f"{where}: {exc}") from None
            log.debug("%s: %s; parsing it with feedparser", where, exc)
        except Exception as exc:  # noqa: BLE001 - a surprise in the fast path must not cost the batch
            if engine == "fast":
                raise
            log.warning("%s: the fast feed parser failed (%s: %s); parsing it with feedparser", where, type(exc).__name__, exc)
    elif engine == "fast":
        raise FastPathUnavailable(f"{where}: the fast feed parser cannot read this document: its encoding is unknown")
    if parsed is None:
        parsed = _feedparser_parse(utf8, base_url)
    entries, version = parsed.entries, parsed.version
    if not entries:
        if not version or parsed.bozo:
            reason = _not_a_feed_reason(utf8, parsed)
            raise SourceError(f"{where} is not an RSS or Atom feed: {reason}; check the feed address")
        log.info("%s: no entries", where)
        return SourceBatch(source, ())

    warnings: list[str] = []
    if parsed.bozo:
        problem = _describe(parsed.bozo_exception)
        warnings.append(f"malformed feed ({problem}); kept the entries the lenient parser recovered")
    elif encoding_info.get("bozo"):
        warnings.append(f"character encoding problem ({_describe(encoding_info.get('bozo_exception'))})")
    if not version:
        warnings.append("no <rss>, <feed> or RDF root element, but entries were found")

    articles: list[Article] = []
    dropped: list[Dropped] = []
    first_seen: dict[str, int] = {}
    for number, entry in enumerate(entries, 1):
        item = f"{base_url or source} entry {number}"
        outcome = _entry_article(entry, source=source, default_tz=default_tz, fetched_at=fetched_at)
        if isinstance(outcome, str):
            dropped.append(Dropped(item, outcome))
            continue
        if outcome.source_id in first_seen:
            kind = "GUID" if outcome.guid else ("link" if outcome.url else "content")
            first = first_seen[outcome.source_id]
            dropped.append(Dropped(item, f"duplicate {kind} {outcome.source_id!r} (first in entry {first})"))
            continue
        first_seen[outcome.source_id] = number
        articles.append(outcome)

    for d in dropped:
        log.warning("skipped %s: %s", d.item, d.reason)
    undated = sum(a.undated for a in articles)
    if undated:
        log.warning(
            "%s: %d entr%s without a readable date kept with the fetch time", where, undated, "y" if undated == 1 else "ies"
        )
    warning = "; ".join(warnings) or None
    if warning:
        log.warning("%s degraded: %s", where, warning)
    log.info("%s: %d article(s), %d dropped", where, len(articles), len(dropped))
    return SourceBatch(source, tuple(articles), tuple(dropped), degraded=bool(warnings), warning=warning)


class FeedSource:
    """One RSS or Atom feed, polled over HTTP(S) with conditional GET.

    Parameters
    ----------
    name
        The source name (e.g. ``"feed:sec-press"``), stored in each article.
    url
        The feed's http or https URL.
    default_tz
        The zone times without a zone are read in.
    allow_private, allow_private_hosts
        Let the feed live on a private address: every host, or only the
        named hosts (redirects elsewhere are still checked); see
        :mod:`monitor.news.http`.
    max_bytes, connect_timeout, read_timeout
        Limits of each fetch (:func:`monitor.news.http.fetch`).
    now
        Clock for the fetch time (aware UTC); ``monitor.clock.now`` by default.
    user_agent
        The ``User-Agent`` header.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        default_tz: ZoneInfo,
        allow_private: bool = False,
        allow_private_hosts: Collection[str] = (),
        max_bytes: int = 10_000_000,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        now: Callable[[], datetime] | None = None,
        user_agent: str = http.DEFAULT_USER_AGENT,
    ) -> None:
        self.name = name
        self.url = url
        self.default_tz = default_tz
        self.allow_private = allow_private
        self.allow_private_hosts = tuple(allow_private_hosts)
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.user_agent = user_agent
        self._now = now or _clock.now

    def __repr__(self) -> str:
        return f"FeedSource({self.name!r}, {self.url!r})"

    def fetch(self, state: PollState | None = None) -> SourceBatch:
        """Poll the feed once.

        Parameters
        ----------
        state
            Validators of the previous poll (sent as ``If-None-Match`` /
            ``If-Modified-Since``).

        Returns
        -------
        SourceBatch
            On 304: no articles, ``not_modified=True`` and ``state`` as given.
            On 200: the parsed entries and the new validators in ``state``.

        Raises
        ------
        SourceError
            The URL or address is refused, the fetch fails, or the document
            is not a safe RSS or Atom feed (one-line message).
        """
        previous = state or PollState()
        result = http.fetch(
            self.url,
            etag=previous.etag,
            last_modified=previous.last_modified,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_bytes=self.max_bytes,
            allow_private=self.allow_private,
            allow_private_hosts=self.allow_private_hosts,
            user_agent=self.user_agent,
        )
        if result.status == 304:
            log.info("feed source %r: not modified since the last poll", self.name)
            return SourceBatch(self.name, (), state=state, not_modified=True)
        fetched_at = self._now()
        cap = f"the body was cut at the size cap of {self.max_bytes} bytes"
        try:
            batch = parse_feed(
                result.body, source=self.name, default_tz=self.default_tz, fetched_at=fetched_at, base_url=result.url
            )
        except SourceError as exc:
            if result.truncated:
                raise SourceError(f"{exc} ({cap}; raise max_bytes if the feed is really this large)") from None
            raise
        new_state = PollState(etag=result.etag, last_modified=result.last_modified)
        if result.truncated:
            warning = f"{cap}; parsed what arrived (the last entry may be incomplete)"
            if batch.warning:
                warning = f"{warning}; {batch.warning}"
            log.warning("feed source %r degraded: %s", self.name, warning)
            return replace(batch, state=new_state, degraded=True, warning=warning)
        return replace(batch, state=new_state)
