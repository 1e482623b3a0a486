"""Find where a text names the instruments of a watchlist.

Tagging runs in two steps kept apart on purpose:

1. *Scanning* finds the literal strings of the universe (names, aliases,
   tickers, codes, pairs: :class:`~monitor.tagging.universe.Term`) in the
   text, bounded by non-word characters. :class:`RegexTermScanner` does it
   with one compiled regular expression; a scanner for the whole market
   (Aho-Corasick) only has to offer the same ``scan`` method.
2. *Rules* (:func:`find_mentions`) decide which of those occurrences are
   mentions and of what form, from the characters around them: a ``$`` in
   front (cashtag), an exchange prefix, a ticker after a name, a code in
   parentheses, the name nearby for a bare ticker. Overlapping candidates are
   resolved so that the longest, most explicit one wins and a character
   belongs to at most one mention.

:class:`WatchlistTagger` ties both to relevance scoring.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.models import TEXT_SEPARATOR, Instrument, Mention, TickerTag
from monitor.tagging.relevance import ArticleLayout, relevance
from monitor.tagging.universe import Term, TermKind, taggable_terms

logger = logging.getLogger(__name__)

#: A bare ambiguous ticker counts when its instrument's name is at most this
#: many characters away (gap between the two spans).
NAME_PROXIMITY = 200

#: How explicit each mention form is; breaks ties between equally long overlapping candidates.
EXPLICITNESS: Mapping[str, int] = {
    "name_ticker": 7,
    "name_code": 7,
    "exchange_ticker": 6,
    "pair": 5,
    "cashtag": 5,
    "alias": 3,
    "name": 2,
    "ticker": 1,
}

#: Exchange prefixes of exchange-qualified tickers ("NYSE:GEO", "(NASDAQ: AAPL)").
_EXCHANGES = (
    r"NYSE[ ]?American|NYSE[ ]?AMERICAN|NYSE[ ]?Arca|NYSE[ ]?ARCA|NYSEArca|NYSE|"
    r"NASDAQ|Nasdaq|AMEX|CBOE|Cboe|OTC"
)
_EXCHANGE_PREFIX = re.compile(rf"(?<!\w)(?:{_EXCHANGES})[ \t]*:[ \t]*")
#: Between a name and its ticker: an optional corporate suffix, a comma, blanks, an optional "$".
_NAME_TICKER_GAP = re.compile(
    r"(?:,?[ \t]+(?:Incorporated|Inc|Corporation|Corp|Co|Ltd|LLC|PLC|plc|N\.V|S\.A|AG|SE)\.?)?,?[ \t]+\$?"
)
#: Between a name and a code in parentheses: "Bitcoin (BTC)", "CoreCivic (NYSE: CXW)".
_NAME_CODE_OPEN = re.compile(rf"[ \t]*\([ \t]*(?:(?:{_EXCHANGES})[ \t]*:[ \t]*)?\$?")
_NAME_CODE_CLOSE = re.compile(r"[ \t]*\)")
#: Regions where nothing counts: URLs, domain paths and e-mail addresses.
_MASKED = re.compile(
    r"(?:https?|ftp)://\S+|www\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?<![\w.])[\w-]+(?:\.[\w-]+)+/\S*"
)
#: Characters that, touching a bare ticker, make it part of a path, an address or a compound.
_BARE_LEFT_REFUSED = frozenset("/\\@.&_")
_BARE_RIGHT_REFUSED = re.compile(r"@|[/.&_]\w")
_WORD_CHAR = re.compile(r"\w")
_EXPLICIT_KINDS = frozenset({TermKind.TICKER, TermKind.CODE, TermKind.PAIR})


@dataclass(frozen=True)
class Hit:
    """An occurrence of one surface string; ``terms`` are every term spelt that way."""

    start: int
    end: int
    terms: tuple[Term, ...]


class TermScanner(Protocol):
    """Finds the terms of a universe in text (the part a faster algorithm may replace)."""

    def scan(self, text: str) -> list[Hit]:
        """Return, for every position of ``text``, the longest term that starts there.

        A term occurs where neither the character before it nor the one after
        it is a word character (``\\w``). Matching is case-sensitive. Hits are
        ordered by start and may overlap one another.
        """
        ...


class RegexTermScanner:
    """A :class:`TermScanner` made of one compiled regular expression.

    Parameters
    ----------
    terms
        The terms to look for; several may share a surface (two instruments
        with one alias).
    """

    def __init__(self, terms: Iterable[Term]) -> None:
        by_surface: dict[str, list[Term]] = defaultdict(list)
        for term in terms:
            by_surface[term.surface].append(term)
        self._terms = {surface: tuple(found) for surface, found in by_surface.items()}
        if self._terms:
            alternatives = "|".join(re.escape(s) for s in sorted(self._terms, key=lambda s: (-len(s), s)))
            # A zero-width lookahead tries every position, so overlapping hits are all found;
            # the alternatives are longest first, so each position reports its longest term.
            self._pattern: re.Pattern[str] | None = re.compile(rf"(?=(?<!\w)({alternatives})(?!\w))")
        else:
            self._pattern = None

    def scan(self, text: str) -> list[Hit]:
        """See :meth:`TermScanner.scan`."""
        if self._pattern is None:
            return []
        return [
            Hit(match.start(1), match.end(1), self._terms[match.group(1)])
            for match in self._pattern.finditer(text)
        ]


# --------------------------------------------------------------------------- rules


def find_mentions(text: str, hits: Sequence[Hit]) -> list[Mention]:
    """Turn scanned term occurrences into mentions by the tagging rules.

    Rules (``Mention.method``):

    - ``name`` / ``alias``: a name or alias occurrence.
    - ``name_ticker``: a name or alias followed by a ticker, code or pair of
      the same instrument ("CoreCivic, Inc. CXW", "Bitcoin BTC/USD"); the
      span runs from the name through the ticker.
    - ``name_code``: a name followed by a ticker or code in parentheses,
      optionally exchange-qualified ("Bitcoin (BTC)", "CoreCivic (NYSE: CXW)").
    - ``cashtag``: ``$`` directly before a ticker or code ("$CXW", "$BTC").
    - ``exchange_ticker``: an exchange prefix before a ticker ("NYSE:GEO",
      "NASDAQ: AAPL"); the span covers prefix and ticker.
    - ``pair``: a currency pair of a crypto instrument ("BTC/USD", "BTCUSD").
    - ``ticker``: a bare ticker. One that is unambiguous counts anywhere;
      one that is short or an English word counts only within
      :data:`NAME_PROXIMITY` characters of its instrument's name or alias; a
      one-letter ticker never counts bare. A bare ticker touching ``/``,
      ``@``, ``.``, ``&`` or ``_`` (a path, an address) does not count. Bare
      codes never count.

    Nothing inside a URL or an e-mail address counts. Where candidates
    overlap, the longest wins, then the most explicit (:data:`EXPLICITNESS`),
    then the earliest and the smallest symbol, so no character is in two
    mentions.

    Parameters
    ----------
    text
        The text that was scanned.
    hits
        The scanner's hits in ``text``.

    Returns
    -------
    list of Mention
        Ordered by start; ``text[m.start:m.end] == m.matched``.
    """
    if not hits:
        return []
    # URLs, paths and addresses need one of these characters: skip the scan without them.
    if "/" in text or "@" in text or "www." in text:
        masked = [match.span() for match in _MASKED.finditer(text)]
        hits = [hit for hit in hits if not _overlaps_any(hit.start, hit.end, masked)]
    explicit_at: dict[int, list[tuple[Term, int]]] = defaultdict(list)
    for hit in hits:
        for term in hit.terms:
            if term.kind in _EXPLICIT_KINDS:
                explicit_at[hit.start].append((term, hit.end))
    exchange_before = (
        {match.end(): match.start() for match in _EXCHANGE_PREFIX.finditer(text)} if ":" in text else {}
    )

    candidates: list[Mention] = []
    bare: list[tuple[Mention, Term]] = []
    for hit in hits:
        for term in hit.terms:
            if term.kind in (TermKind.NAME, TermKind.ALIAS):
                candidates.append(_mention(text, term, hit.start, hit.end, term.kind.value))
                candidates.extend(_name_followed_by_code(text, term, hit, explicit_at))
            elif term.kind is TermKind.PAIR:
                candidates.append(_mention(text, term, hit.start, hit.end, "pair"))
            else:
                candidates.extend(_qualified_code(text, term, hit, exchange_before))
                if term.kind is TermKind.TICKER and len(term.surface) > 1 and _bare_ticker_shape(text, hit):
                    bare.append((_mention(text, term, hit.start, hit.end, "ticker"), term))

    names: dict[str, list[Mention]] = defaultdict(list)
    for mention in candidates:
        if mention.method in ("name", "alias"):
            names[mention.symbol].append(mention)
    for mention, term in bare:
        if term.bare_ok or any(_gap(mention, name) <= NAME_PROXIMITY for name in names[term.symbol]):
            candidates.append(mention)
    return _resolve_overlaps(candidates)


def _mention(text: str, term: Term, start: int, end: int, method: str) -> Mention:
    return Mention(symbol=term.symbol, start=start, end=end, matched=text[start:end], method=method)


def _name_followed_by_code(
    text: str, name: Term, hit: Hit, explicit_at: Mapping[int, list[tuple[Term, int]]]
) -> Iterable[Mention]:
    """The ``name_ticker`` and ``name_code`` candidates that start with this name."""
    gap = _NAME_TICKER_GAP.match(text, hit.end)
    if gap is not None:
        for code, end in explicit_at.get(gap.end(), ()):
            if code.symbol == name.symbol:
                yield _mention(text, name, hit.start, end, "name_ticker")
    opening = _NAME_CODE_OPEN.match(text, hit.end)
    if opening is not None:
        for code, end in explicit_at.get(opening.end(), ()):
            closing = _NAME_CODE_CLOSE.match(text, end)
            if code.symbol == name.symbol and closing is not None:
                yield _mention(text, name, hit.start, closing.end(), "name_code")


def _qualified_code(text: str, term: Term, hit: Hit, exchange_before: Mapping[int, int]) -> Iterable[Mention]:
    """The ``cashtag`` and ``exchange_ticker`` candidates of a ticker or code occurrence."""
    dollar = hit.start - 1
    if dollar >= 0 and text[dollar] == "$" and (dollar == 0 or not _WORD_CHAR.match(text[dollar - 1])):
        yield _mention(text, term, dollar, hit.end, "cashtag")
    if hit.start in exchange_before:
        yield _mention(text, term, exchange_before[hit.start], hit.end, "exchange_ticker")


def _bare_ticker_shape(text: str, hit: Hit) -> bool:
    """Whether the characters around a ticker let it stand as a bare ticker."""
    if hit.start > 0 and text[hit.start - 1] in _BARE_LEFT_REFUSED | {"$"}:
        return False
    return _BARE_RIGHT_REFUSED.match(text, hit.end) is None


def _resolve_overlaps(candidates: Iterable[Mention]) -> list[Mention]:
    """Keep the longest, most explicit candidates so that no two overlap."""
    ranked = sorted(
        set(candidates),
        key=lambda m: (-(m.end - m.start), -EXPLICITNESS[m.method], m.start, m.symbol),
    )
    kept: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for mention in ranked:
        if not _overlaps_any(mention.start, mention.end, taken):
            kept.append(mention)
            taken.append((mention.start, mention.end))
    return sorted(kept, key=lambda m: (m.start, m.symbol))


def _overlaps_any(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


def _gap(a: Mention, b: Mention) -> int:
    """Characters between two spans (0 when they touch or overlap)."""
    return max(0, max(a.start, b.start) - min(a.end, b.end))



# --------------------------------------------------------------------------- tagger


class WatchlistTagger:
    """Tags articles with the taggable instruments of a watchlist.

    The scanner is compiled once, here; :meth:`tag` and :meth:`mentions` are
    pure functions of their arguments.

    Parameters
    ----------
    instruments
        The universe; instruments with ``taggable=False`` (benchmarks) are ignored.
    scanner
        How terms are found; by default a :class:`RegexTermScanner` over the
        instruments' terms.
    """

    def __init__(self, instruments: Iterable[Instrument], scanner: TermScanner | None = None) -> None:
        self.instruments: tuple[Instrument, ...] = tuple(i for i in instruments if i.taggable)
        self._scanner: TermScanner = scanner or RegexTermScanner(taggable_terms(self.instruments))

    def mentions(self, text: str) -> list[Mention]:
        """Every mention of a watched instrument in ``text``, ordered by start.

        See :func:`find_mentions` for the rules.
        """
        return find_mentions(text, self._scanner.scan(text))

    def tag(self, title: str, body: str) -> list[TickerTag]:
        """Tag one article.

        Parameters
        ----------
        title, body
            The article's title and body; mention offsets index into
            ``title + TEXT_SEPARATOR + body`` (:attr:`monitor.models.Article.text`).

        Returns
        -------
        list of TickerTag
            One per instrument mentioned, ordered by relevance (highest
            first), then symbol; each tag's mentions are ordered by start.
        """
        found = self.mentions(title + TEXT_SEPARATOR + body)
        layout = ArticleLayout.of(title, body)
        by_symbol: dict[str, list[Mention]] = defaultdict(list)
        for mention in found:
            by_symbol[mention.symbol].append(mention)
        tags = [
            TickerTag(symbol=symbol, relevance=relevance(own, len(found), layout), mentions=tuple(own))
            for symbol, own in by_symbol.items()
        ]
        return sorted(tags, key=lambda tag: (-tag.relevance, tag.symbol))
