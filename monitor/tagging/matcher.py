"""Find where a text names the instruments of the universe.

Tagging runs in two steps kept apart on purpose:

1. *Scanning* finds the literal strings of the universe (names, aliases,
   brands, tickers, pairs: :class:`~monitor.tagging.universe.Term`) in the
   text, bounded by non-word characters, in one pass of an Aho-Corasick
   automaton (:class:`AhoCorasickScanner`) that holds every spelling of every
   term.
2. *Rules* (:func:`find_mentions`) decide which of those occurrences are
   mentions and of what form, from the characters around them: a ``$`` in
   front (cashtag), an exchange prefix, a ticker after a name, a ticker in
   parentheses, the name nearby for a bare ticker, context for a name that is
   also a word. The explicit ticker forms are found by small patterns
   anchored on the rare characters they need (``$``, ``:``, ``(``), so that
   a one-letter ticker such as Agilent's ``A`` is found as ``$A`` or
   ``(NYSE: A)`` without every capital A in the text being scanned for.
   Overlapping candidates are resolved so that the longest, most explicit one
   wins and a character belongs to at most one mention.

:class:`Tagger` ties both to relevance scoring.
"""

from __future__ import annotations

import gc
import logging
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import ahocorasick

from monitor.models import TEXT_SEPARATOR, AssetClass, Instrument, Mention, TickerTag
from monitor.tagging.names import spelling_variants
from monitor.tagging.relevance import EXPLICIT_METHODS, ArticleLayout, relevance
from monitor.tagging.universe import COMMON_WORDS, NEWS_ABBREVIATIONS, Term, TermKind, Universe

logger = logging.getLogger(__name__)

#: A bare ambiguous ticker counts when its instrument's name is at most this
#: many characters away (gap between the two spans).
NAME_PROXIMITY = 200
#: A name that is also a common word counts at the start of a sentence when
#: one of :data:`CONTEXT_CUES` is at most this many characters away.
CUE_PROXIMITY = 80

#: How explicit each mention form is; breaks ties between equally long overlapping candidates.
EXPLICITNESS: Mapping[str, int] = {
    "name_ticker": 7,
    "name_code": 7,
    "exchange_ticker": 6,
    "pair": 5,
    "cashtag": 5,
    "paren_ticker": 4,
    "alias": 3,
    "name": 2,
    "brand": 2,
    "ticker": 1,
    "source": 0,
}

#: Words that, near a name that is also a common word, show it is the company.
CONTEXT_CUES = frozenset(
    """
    shares share stock stocks stockholders shareholders investors investor analyst analysts earnings
    revenue revenues sales profit profits quarter quarterly fiscal guidance outlook dividend dividends
    buyback ceo cfo chief executive company company's companies firm maker retailer brand giant rival
    rivals peers inc corp ltd plc nyse nasdaq listed traded market valuation acquisition acquire
    acquired merger deal deals ipo downgrade downgraded upgrade upgraded rating price target
    """.split()
)
#: Names that are also the names of markets and indexes ("the Nasdaq rose", "MSCI World"):
#: they count only in an explicit form or with a legal suffix ("Nasdaq, Inc.").
MARKET_NAMES = frozenset(
    {"Nasdaq", "NASDAQ", "NYSE", "MSCI", "FTSE", "Russell", "Dow", "DOW", "Dow Jones", "Cboe", "CBOE"}
)
#: Banks, brokers and research firms: news quotes them far more often than it is about them.
#: Named in the body only, without an explicit form, fewer than :data:`BROKER_MIN_MENTIONS` times,
#: they are a source of views, not a subject.
BROKER_SYMBOLS = frozenset(
    """GS MS JPM BAC C WFC UBS AMUB BCS EVR JEF DB HSBC NMR MFG RY BMO TD PIPR RJF SF OPY KEY TFC LAZ
    PJT HLI MC COWN CS BNS CM SCHW IBKR MCO SPGI FDS MORN""".split()
)
BROKER_MIN_MENTIONS = 3
#: After a name: the company is the source of a view or of data, not its subject
#: ("Goldman Sachs analysts", "Morgan Stanley upgraded Palantir", "RBC Capital Markets").
_SOURCE_AFTER = re.compile(
    r"(?:'s|’s)?[ \t]+(?:(?:Securities|Capital[ \t]+Markets|Global[ \t]+Research|Research|Investment[ \t]+Research|"
    r"Wealth[ \t]+Management|Global[ \t]+Investment[ \t]+Research|Institute)\b"
    r"|(?:(?:investment|equity|research|credit|chief|senior|global|market|macro|rates)[ \t]+)?"
    r"(?:analysts?|strategists?|economists?)\b"
    r"|(?:upgraded|downgraded|reiterated|reaffirmed|initiated|maintained|"
    r"rates|rated|said[ \t]+in[ \t]+a[ \t]+(?:research[ \t]+)?note|wrote[ \t]+in[ \t]+a[ \t]+note|"
    r"(?:raised|lowered|cut|boosted|trimmed)[ \t]+(?:its|the|their)[ \t]+(?:price[ \t]+)?target)\b)"
    r"|,[ \t]+which[ \t]+(?:sees|expects|forecasts|predicts|estimates)\b"
)
#: After a bank's or broker's name (:data:`BROKER_SYMBOLS`): a view it gives on something else
#: ("Citi sees gold at $3,000", "BofA also reiterated its Buy rating").
_BROKER_VIEW_AFTER = re.compile(
    r"(?:'s|’s)?(?:[ \t]+also)?[ \t]+(?:sees|viewed|views|wrote|writes|noted|notes|says|said|saying|estimates|expects|"
    r"forecasts|predicts|maintained|slashed|lifted|kept|reiterated)\b(?=[^.\n]{0,80}\b(?:rating|target|price|stock|"
    r"shares|gold|oil|rates?|outlook|forecast|estimate|investors|market|economy|growth|earnings|buy|sell|hold|"
    r"neutral|overweight|underweight|outperform|underperform)\b)"
)
_BROKER_VIEW_WORDS = frozenset(
    "sees viewed views wrote writes noted notes says said saying estimates expects forecasts predicts maintained "
    "slashed lifted kept reiterated also".split()
)
#: Before a name: the same, from the words in front ("analysts at Goldman Sachs",
#: "downgraded to Neutral by Bank of America", "according to Barclays", a disclaimer's
#: "do not necessarily reflect those of Nasdaq, Inc.").
_SOURCE_BEFORE = re.compile(
    r"(?:(?:analysts?|strategists?|economists?|researchers?|advis[eo]rs?|(?:portfolio|fund)[ \t]+managers?)"
    r"(?:[ \t]+\w+){0,2}[ \t]+(?:at|from|with)(?:[ \t]+[\w-]+){0,3}?"
    r"|(?:upgraded|downgraded|initiated|reiterated|rated|cut|raised)\b[^.\n]{0,60}\bby"
    r"|according[ \t]+to|(?:reflect|represent)[ \t]+(?:those|the[ \t]+views)[ \t]+of)[ \t]+(?:the[ \t]+)?$",
    re.IGNORECASE,
)
#: The word right before a name (or before its "the") that :data:`_SOURCE_BEFORE` needs, with the
#: words one of which must be in the 80 characters before: cheap tests before the pattern.
_ROLES = ("analyst", "strategist", "economist", "researcher", "advis", "manager")
_SOURCE_HINTS: Mapping[str, tuple[str, ...]] = {
    "at": _ROLES, "from": _ROLES, "with": _ROLES,
    "by": ("graded", "initiated", "reiterated", "rated", "cut", "raised"),
    "to": ("according",), "of": ("those of", "views of"),
}
#: Before a name, on an earnings-call transcript line: "Michael Goldsmith, UBS:" (an analyst's firm).
_TRANSCRIPT_BEFORE = re.compile(
    r"(?:^|\n)[ \t]*(?:[-*•][ \t]*)?[A-Z][\w.'’-]+(?:[ \t]+[A-Z][\w.'’-]+){1,3}[ \t]*[,(][ \t]*(?:[A-Z][\w&.'’-]*[ \t]+){0,3}$"
)
_TRANSCRIPT_AFTER = re.compile(
    r"(?:[ \t]+[A-Z][\w&.'’-]*){0,3}[ \t]*\)?[ \t]*(?::|,?[ \t]+(?:asked|questioned|inquired|queried|wondered|probed|"
    r"sought|followed[ \t]+up|raised)\b)"
)
#: Characters right after a name that a match of :data:`_SOURCE_AFTER` can start with.
_SOURCE_AFTER_FIRST = frozenset({" ", "\t", ",", "'", "’"})
#: Right after a name on a transcript line: ":" "," ")" or (after a blank) a capitalised word or a verb.
_TRANSCRIPT_FIRST = frozenset({":", ",", ")"})
_TRANSCRIPT_HINT = re.compile(r"[ \t]+(?:[A-Z]|asked|questioned|inquired|queried|wondered|probed|sought|followed|raised)")
#: The first word after a name in every match of :data:`_SOURCE_AFTER`: a cheap test before the pattern.
_NEXT_WORD = re.compile(r"(?:'s|’s)?,?[ \t]+(\w+)")
_SOURCE_AFTER_WORDS = frozenset(
    """securities capital global research investment wealth institute analyst analysts strategist strategists
    economist economists equity credit chief senior market macro rates upgraded downgraded reiterated reaffirmed
    initiated maintained rated said wrote raised lowered cut boosted trimmed which""".split()
)
_LINE_END = re.compile(r"[ \t.]*(?:\n|$)")
#: Picture credits: "4kodiak/iStock via Getty Images".
#: Words of price moves and trading: near a bare ticker they show it is one.
MOVE_WORDS = frozenset(
    """
    rose rise rises rising fell fall falls falling gained gain gains jumped jump jumps surged surge slid slide
    dropped drop drops plunged plunge plunges soared soar rallied rally rallies tumbled tumble sank sink climbed
    climb declined decline declines advanced advance lost loses slumped slump spiked spike higher lower up down
    premarket pre-market after-hours trading trades traded volume options calls puts bullish bearish long short
    buy sell hold upgrade downgrade ticker tickers nyse nasdaq report reports reported beat beats miss misses
    """.split()
)
_NAMED_BEFORE = re.compile(r"\b(?:named|called|nicknamed|dubbed|known[ \t]+as|alias|aka)[ \t]+$", re.IGNORECASE)
_TICKER_LIKE = re.compile(r"(?<![\w$])\$?[A-Z]{2,5}(?![\w])")
#: Legal suffixes that may follow a name and confirm it is the company.
_SUFFIX_AFTER = re.compile(r"[ \t]*,?[ \t]*(?:Inc|Corp|Corporation|Co|Ltd|LLC|PLC|plc|Group|Holdings)\b")
#: Exchange prefixes of exchange-qualified tickers ("NYSE:GEO", "(NASDAQ: AAPL)", "OTCPK:NSRGY").
_EXCHANGES = (
    r"NYSE[ ]?American|NYSE[ ]?AMERICAN|NYSE[ ]?Arca|NYSE[ ]?ARCA|NYSEArca|NYSEAMERICAN|NYSEMKT|NYSE[ ]?MKT|"
    r"NYSE|NASDAQ(?:GS|GM|CM)?|Nasdaq|AMEX|CBOE|Cboe|BATS|OTCPK|OTCQX|OTCQB|OTCMKTS|OTC[ ]?Markets|OTC"
)
_TICKER_TEXT = r"[A-Z][A-Z0-9]{0,6}(?:[.\-][A-Z0-9]{1,4})?"
#: Last words of the exchange prefixes: a cheap test before :data:`_EXCHANGE_BEFORE_COLON`.
_EXCHANGE_LAST_WORDS = frozenset(
    "NYSE American AMERICAN Arca ARCA NYSEArca NYSEARCA NYSEAMERICAN NYSEMKT MKT NASDAQ NASDAQGS NASDAQGM NASDAQCM Nasdaq "
    "AMEX CBOE Cboe BATS OTCPK OTCQX OTCQB OTCMKTS Markets OTC".split()
)
#: An exchange prefix ending right before a ":" ("NYSE", "(NASDAQ", "OTCPK").
_EXCHANGE_BEFORE_COLON = re.compile(rf"(?<![\w])(?:{_EXCHANGES})[ \t]*$")
_TICKER_AFTER_COLON = re.compile(rf"[ \t]*\$?({_TICKER_TEXT})(?![\w])")
_CASHTAG_AFTER_DOLLAR = re.compile(r"([A-Za-z][A-Za-z0-9]{0,9}(?:[.\-][A-Za-z0-9]{1,4})?)(?![\w])")
def _NOT_A_TICKER(written: str) -> bool:  # noqa: N802 - reads as a constant predicate
    """Words that follow an exchange's name and a colon without being a ticker ("NYSE: NYSE", "OTC: ADR")."""
    return written in NEWS_ABBREVIATIONS or written in _EXCHANGE_LAST_WORDS or written.lower() in COMMON_WORDS


_LIST_GAP = re.compile(r",?[ \t]*(?:and[ \t]+|or[ \t]+)?")
_PAREN_TICKER = re.compile(rf"\([ \t]*({_TICKER_TEXT})[ \t]*\)")
#: Between a name and its ticker: an optional corporate suffix, a comma, blanks, an optional "$".
_NAME_TICKER_GAP = re.compile(
    r"(?:,?[ \t]+(?:Incorporated|Inc|Corporation|Corp|Co|Ltd|LLC|PLC|plc|N\.V|S\.A|AG|SE)\.?)?,?[ \t]+\$?"
)
#: Between a name and a code in parentheses: "Bitcoin (BTC)", "CoreCivic (NYSE: CXW)".
_NAME_CODE_OPEN = re.compile(
    r"(?:,?[ \t]+(?:Incorporated|Inc|Corporation|Corp|Co|Company|Ltd|LLC|PLC|plc|N\.V|S\.A|AG|SE|Group|Holdings)\.?)?"
    rf"(?:'s|’s)?[ \t]*\([ \t]*(?:(?:{_EXCHANGES}|[Ss]ymbol|[Tt]icker|NYSE[ \t]symbol)[ \t]*:[ \t]*)?\$?"
)
_NAME_CODE_CLOSE = re.compile(r"[ \t]*\)")
#: A token (no blanks) that is a URL, a domain path or an e-mail address: nothing in it counts.
_ADDRESS = re.compile(r"(?:https?|ftp)://|www\.|[\w.+-]@[\w-]+\.")
_DOMAIN_PATH = re.compile(r"[\w-]+(?:\.[\w-]+)+/")
_TOKEN_EDGES = (" ", "\n", "\t", "\r", "\u00a0", "(", ")", "<", ">", "[", "]", '"', "'", "“", "”", "‘", "’")
_TOKEN_EDGE = re.compile("[" + re.escape("".join(_TOKEN_EDGES)) + "]")
_LAST_EDGE = re.compile(".*[" + re.escape("".join(_TOKEN_EDGES)) + "]", re.DOTALL)
_SOCIAL_NAMES = (
    "Facebook", "Twitter", "X", "LinkedIn", "Reddit", "WhatsApp", "Telegram", "Pinterest", "Flipboard", "Threads",
    "Bluesky", "Email", "E-mail",
)
_SOCIAL = rf"(?:{'|'.join(re.escape(name) for name in _SOCIAL_NAMES)})"
#: Words the scanner reports so that boilerplate around them can be masked: social networks
#: (share buttons) and picture agencies (credit lines).
CREDIT_MARKS = frozenset({"Getty Images", "iStock", "Shutterstock", "AP Photo"})
#: Podcast platforms: a line that lists them ("available on iTunes, Spotify") is an advertisement.
PODCAST_MARKS = frozenset({"iTunes", "Apple Podcasts", "Google Podcasts", "podcast", "Podcast"})
MARKERS = (*(name for name in _SOCIAL_NAMES if name != "X"), *CREDIT_MARKS, *PODCAST_MARKS)
#: Before a social network's name: a share button ("Share to Facebook", "Post this story on X").
_SHARE_BEFORE = re.compile(
    r"(?:share|post|pin|send)[ \t]+(?:this[ \t]+(?:article|story|post)[ \t]+)?(?:to|on|via|with)[ \t]+$", re.IGNORECASE
)
_SOCIAL_LINE = re.compile(rf"[ \t]*(?:(?:share|follow[ \t]+us)[ \t]*:?[ \t]*)?{_SOCIAL}(?:[ \t,|/•·]+{_SOCIAL})*[ \t]*$", re.I)
#: Labels of link lists: the list runs to the next blank line.
LIST_LABELS = frozenset(
    """now read|read more|read next|also read|see also|related|related articles|related stories|related coverage
    |related news|recommended|recommended for you|trending|trending now|most popular|don't miss|more news
    |more stories|popular|top stories|you may also like""".replace("\n", "").split("|")
)
#: Labels of picture and source credits: the line only.
CREDIT_LABELS = frozenset(
    """photo|photos|image|images|picture|pictures|photograph|video|graphic|illustration|source|sources|credit
    |credits|photo credit|image credit|photo by|image by|photo courtesy|image courtesy|courtesy|courtesy of""".replace(
        "\n", ""
    ).split("|")
)
_BLANK_LINE_AFTER = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = frozenset(".!?:;\n\"“”")
_BARE_LEFT_REFUSED = frozenset("/\\@.&_$")
_BARE_RIGHT_REFUSED = re.compile(r"@|[/.&_]\w|:[A-Z]|-\d")
_WORD = re.compile(r"[A-Za-z][\w'’]*")
#: After a place's name: its state or country ("Palo Alto, Calif.", "Dearborn, Michigan").
_PLACE_AFTER = re.compile(r",[ \t]+(?:[A-Z][a-z]{1,4}\.|[A-Z]{2}\b|California|Texas|New[ \t]York|Florida|Washington|"
                          r"Massachusetts|Illinois|Michigan|Ohio|Georgia|Virginia|Colorado|Oregon|Israel|Canada|England)")
#: A capitalised word (not an abbreviation) right after a name: part of a longer proper noun.
_NEXT_PROPER_WORD = re.compile(r"[ \t]+[A-Z][a-z]")
#: Capitalised words that may stand right before a company's name.
_OPENERS = frozenset({"The", "A", "An", "And", "But", "Or", "So", "As", "At", "By", "For", "From", "In", "On", "Of",
                      "To", "With", "While", "When", "Why", "How", "What", "If", "Is", "Are", "Was", "Were", "Both",
                      "Shares", "Stock", "Stocks", "Buy", "Sell", "Hold", "Like", "Unlike", "Rival", "Rivals"})
_NAME_KINDS = frozenset({TermKind.NAME, TermKind.ALIAS, TermKind.BRAND})
_DIGITS = frozenset("0123456789")
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_CODE_KINDS = frozenset({TermKind.TICKER, TermKind.CODE})


#: An occurrence of one spelling: ``(start, end, terms)``, ``terms`` being every term spelt that way.
#: A plain tuple: a scan makes tens of thousands of them per megabyte.
Hit = tuple[int, int, tuple[Term, ...]]


class TermScanner(Protocol):
    """Finds the terms of a universe in text (the part a faster algorithm may replace)."""

    def scan(self, text: str) -> list[Hit]:
        """Return every occurrence of a term's spelling in ``text``.

        A term occurs where neither the character before it nor the one after
        it is a word character (``\\w``). Matching is case-sensitive. Hits are
        ordered by start and may overlap one another.
        """
        ...


class AhoCorasickScanner:
    """A :class:`TermScanner` over one Aho-Corasick automaton (pyahocorasick).

    Names, aliases and brands are held in every spelling
    :func:`~monitor.tagging.names.spelling_variants` gives (hyphen or space,
    apostrophes, "&" or "and", capitals); tickers, codes and pairs as written.
    One-character spellings (Agilent's ``A``) are left out: alone they never
    count, and the explicit forms that do count (``$A``, ``(NYSE: A)``) are
    found from their ``$``, ``:`` or the name before them.

    Parameters
    ----------
    terms
        The terms to look for; several may share a spelling (two instruments
        with one alias).
    markers
        Words reported as ``MARKER`` terms, for the boilerplate rules
        (:data:`MARKERS`).
    lower_case_names
        Symbols whose names are also looked for in lower case (cryptocurrencies:
        "bitcoin"), unless a name needs context.
    """

    def __init__(
        self, terms: Iterable[Term], markers: Iterable[str] = MARKERS, lower_case_names: Iterable[str] = ()
    ) -> None:
        lower_case_names = frozenset(lower_case_names)
        by_key: dict[str, list[Term]] = defaultdict(list)
        for marker in markers:
            by_key[marker].append(Term(marker, "", TermKind.MARKER))
        for term in terms:
            keys = spelling_variants(term.surface) if term.is_name else {term.surface}
            if term.is_name and term.symbol in lower_case_names and not term.context:
                keys = {*keys, term.surface.lower()}  # news writes "bitcoin" and "ethereum" in lower case
            for key in keys:
                if len(key) < 2:
                    continue  # a one-letter ticker never counts bare; the explicit forms find it
                if term not in by_key[key]:
                    by_key[key].append(term)
        self.automaton = ahocorasick.Automaton()
        for key, found in by_key.items():
            # Markers first, so a hit's first term tells whether it is one.
            ordered = sorted(found, key=lambda term: term.kind is not TermKind.MARKER)
            self.automaton.add_word(key, (len(key), tuple(ordered)))
        self.keys = len(by_key)
        if by_key:
            self.automaton.make_automaton()

    def scan(self, text: str) -> list[Hit]:
        """See :meth:`TermScanner.scan`."""
        if not self.keys or not text:
            return []
        hits = []
        append = hits.append
        last = len(text) - 1
        word = _ASCII_WORD
        for end, (length, terms) in self.automaton.iter(text):
            start = end - length + 1
            if start:
                before = text[start - 1]
                if before in word or (before >= "\x80" and before.isalnum()):
                    continue
            if end < last:
                after = text[end + 1]
                if after in word or (after >= "\x80" and after.isalnum()):
                    continue
            append((start, end + 1, terms))
        hits.sort()  # by start, then end: one key per spelling, so no two hits tie
        return hits


class Lexicon:
    """The tickers and codes of a universe, looked up by spelling, for the explicit forms.

    Parameters
    ----------
    terms
        Every term of the universe.
    known
        Every symbol of the universe, untaggable ones included.
    """

    def __init__(self, terms: Iterable[Term], known: Iterable[str] = ()) -> None:
        #: Every symbol of the universe, taggable or not: an exchange-qualified ticker of one of them
        #: is never taken for an unknown listing.
        self.known: frozenset[str] = frozenset(known)
        codes: dict[str, list[Term]] = defaultdict(list)
        follow: dict[str, list[Term]] = defaultdict(list)
        for term in terms:
            if term.kind in _CODE_KINDS:
                codes[term.surface].append(term)
                follow[term.symbol].append(term)
            elif term.kind is TermKind.PAIR:
                follow[term.symbol].append(term)
        # In a cashtag a crypto code beats a ticker of the same spelling: $ETH is Ether.
        self.codes: dict[str, tuple[Term, ...]] = {
            surface: tuple(sorted(found, key=lambda t: t.kind is not TermKind.CODE)) for surface, found in codes.items()
        }
        #: Per symbol, the tickers, codes and pairs that may follow its name, longest first.
        self.followers: dict[str, tuple[Term, ...]] = {
            symbol: tuple(sorted(found, key=lambda t: -len(t.surface))) for symbol, found in follow.items()
        }

    def unknown(self, surface: str) -> Term:
        """A ticker term for a symbol the universe lacks, seen in an exchange-qualified form."""
        return Term(surface, surface.replace(".", "-"), TermKind.TICKER, bare_ok=False)

    def tickers(self, surface: str) -> tuple[Term, ...]:
        """The ticker terms spelt ``surface``."""
        return tuple(term for term in self.codes.get(surface, ()) if term.kind is TermKind.TICKER)


# --------------------------------------------------------------------------- rules


def find_mentions(text: str, hits: Sequence[Hit], lexicon: Lexicon) -> list[Mention]:
    """Turn scanned term occurrences into mentions by the tagging rules.

    Rules (``Mention.method``):

    - ``name`` / ``alias`` / ``brand``: an occurrence of a name, alias or
      brand. One that is also a common word or a person's name (``context``:
      Apple, Target, Ford) counts only with context: in an explicit form
      below; or when the article names the instrument another way too; or
      in mid-sentence, capitalised, with no capitalised word right before or
      after it ("Harrison Ford", "Big Apple", "Southern California" do not
      count); or, at a sentence start or in capitals, with a finance word
      (:data:`CONTEXT_CUES`) within :data:`CUE_PROXIMITY` characters.
    - ``name_ticker``: a name followed by a ticker, code or pair of the same
      instrument ("CoreCivic, Inc. CXW", "Bitcoin BTC/USD").
    - ``name_code``: a name followed by its ticker or code in parentheses,
      optionally exchange-qualified ("Bitcoin (BTC)", "Alcoa (NYSE: AA)").
    - ``cashtag``: ``$`` before a ticker or code ("$CXW", "$BTC"; lower case
      for tickers of three letters or more); a crypto code wins over a ticker
      of the same spelling.
    - ``exchange_ticker``: an exchange prefix before a ticker ("NYSE:GEO",
      "NASDAQ: AAPL", "OTCPK:NSRGY"), even one the universe lacks (then
      the tag's symbol is the ticker, with a Yahoo dash for a class dot).
    - ``paren_ticker``: a ticker alone in parentheses ("(NVDA)"); one that
      is also a word counts only after a capitalised word and with three
      letters or more ("PepsiCo (PEP)"), never an abbreviation ("(AI)").
    - ``pair``: a currency pair of a crypto instrument ("BTC/USD", "BTCUSD").
    - ``ticker``: a bare ticker. One that is unambiguous counts among
      market words (:func:`_market_context`: "CXW shares fell 5%", not "a
      prince named BABA"), except in a stretch of capitals (a shouted
      headline) or as a word of a longer name ("China AMC earnings"); one that is short
      or an English word counts only within :data:`NAME_PROXIMITY`
      characters of a counted name of its instrument; a one-letter ticker
      never counts bare. A bare ticker touching ``/``, ``@``, ``.``, ``&``,
      ``_`` or ``$`` does not count. Bare codes never count.

    Nothing inside a URL, an e-mail address or boilerplate (share buttons,
    "Now Read:" link lists) counts. Where candidates overlap, the longest
    wins, then the most explicit (:data:`EXPLICITNESS`), then the earliest
    and the smallest symbol, so no character is in two mentions.

    Parameters
    ----------
    text
        The text that was scanned.
    hits
        The scanner's hits in ``text``.
    lexicon
        The universe's tickers and codes.

    Returns
    -------
    list of Mention
        Ordered by start; ``text[m.start:m.end] == m.matched``.
    """
    markers = [hit for hit in hits if hit[2][0].kind is TermKind.MARKER]
    if markers:
        hits = [
            hit if hit[2][0].kind is not TermKind.MARKER else (hit[0], hit[1], hit[2][1:])
            for hit in hits
            if hit[2][0].kind is not TermKind.MARKER or len(hit[2]) > 1
        ]
    spans = _masked_spans(text, markers)
    masked = _Spans(spans) if spans else _NO_SPANS
    if masked:
        hits = masked.outside(hits)

    candidates: list[Mention] = []
    explicit_symbols: set[str] = set()
    for mention in _explicit_forms(text, lexicon):
        if not masked or not masked.overlaps(mention.start, mention.end):
            candidates.append(mention)
            explicit_symbols.add(mention.symbol)

    # One pass over the hits: explicit forms that start with a name, pairs, bare tickers set aside,
    # names kept with whether they are a source; the symbols confirmed by a plain name noted.
    kept: list[tuple[int, int, Term, bool]] = []
    bare: list[tuple[int, int, Term]] = []
    plain: set[str] = set()
    first_words: set[str] = set()
    has_context_names = False
    for start, end, terms in hits:
        for term in terms:
            if term.is_name:
                if start and text[start] in _DIGITS and text[start - 1] in ".,$":
                    continue  # "3M" is not the end of "$56.3M"
                ahead = text[end : end + 40]
                first = ahead.lstrip(" \t,")[:1]
                if "(" in ahead or first.isupper() or first.isdigit() or first == "$":
                    for mention in _name_followed_by_code(text, term, start, end, lexicon):
                        candidates.append(mention)
                        explicit_symbols.add(mention.symbol)
                source = _is_source(text, start, end, term.symbol in BROKER_SYMBOLS)
                if not source and term.surface in MARKET_NAMES and not _SUFFIX_AFTER.match(text, end):
                    continue
                kept.append((start, end, term, source))
                if term.context:
                    has_context_names = True
                elif not source:
                    plain.add(term.symbol)
                    if term.first_word:
                        first_words.add(term.first_word)
            elif term.kind is TermKind.PAIR:
                candidates.append(_mention(text, term, start, end, "pair"))
                explicit_symbols.add(term.symbol)
            elif term.kind is TermKind.TICKER and len(term.surface) > 1 and _bare_ticker_shape(text, start, end):
                bare.append((start, end, term))

    confirmed = explicit_symbols | plain
    if has_context_names:
        # A word-like name that the article also uses as a person's surname ("Glenn Cohen ... Cohen
        # said") or as the first word of another company's name ("Constellation Brands ...
        # Constellation's") is that person or that company throughout the article.
        doubtful = {
            term.symbol
            for start, end, term, source in kept
            if term.context and (term.surface in first_words or _after_first_name(text, start))
        }
        for start, end, term, source in kept:
            if (
                term.context
                and not source
                and term.symbol not in confirmed
                and term.symbol not in doubtful
                and _has_context(text, start, end)
            ):
                confirmed.add(term.symbol)
    counted_names: dict[str, list[tuple[int, int]]] = {}
    for start, end, term, source in kept:
        if source:
            candidates.append(_mention(text, term, start, end, "source"))
        elif not term.context or term.symbol in confirmed:
            candidates.append(_mention(text, term, start, end, term.rule))
            counted_names.setdefault(term.symbol, []).append((start, end))
    for start, end, term in bare:
        near_name = False
        for n_start, n_end in counted_names.get(term.symbol, ()):
            gap = n_start - end if n_start >= end else (start - n_end if start >= n_end else 0)
            if gap <= NAME_PROXIMITY:
                near_name = True
                break
        if not near_name and (
            not term.bare_ok
            or _in_capitals(text, start, end)
            or _inside_proper_name(text, start, end)
            or not _market_context(text, start, end)
        ):
            continue
        if not _is_source(text, start, end, term.symbol in BROKER_SYMBOLS):
            candidates.append(_mention(text, term, start, end, "ticker"))
    return _resolve_overlaps(candidates)


def _is_source(text: str, start: int, end: int, broker: bool = False) -> bool:
    """Whether the company named at [start, end) is the source of a view or of data, not the subject.

    ``broker``: the company is a bank or broker (:data:`BROKER_SYMBOLS`), whose
    views ("Citi sees gold rising") are quoted far more often than it is
    reported on. Cheap tests on the characters around the name come first;
    the patterns run only when those leave a chance.
    """
    after = text[end : end + 1]
    if after in _SOURCE_AFTER_FIRST:
        following = _NEXT_WORD.match(text, end)
        if following is not None:
            word = following.group(1).lower()
            if word in _SOURCE_AFTER_WORDS and _SOURCE_AFTER.match(text, end):
                return True
            if broker and word in _BROKER_VIEW_WORDS and _BROKER_VIEW_AFTER.match(text, end):
                return True
    low = start - 80 if start > 80 else 0
    if start >= 2 and text[start - 1] == " ":
        if text[start - 2] == ":" and _LINE_END.match(text, end):
            return True  # a headline that ends with its source: "Arrow Electronics downgraded: BofA"
        space = text.rfind(" ", start - 16 if start > 16 else 0, start - 1)
        last = text[space + 1 : start - 1].lower()
        if last == "the" and space > 0:
            space = text.rfind(" ", space - 16 if space > 16 else 0, space)
            last = text[space + 1 : text.find(" ", space + 1)].lower()
        hints = _SOURCE_HINTS.get(last)
        if hints is not None:
            window = text[low:start].lower()
            if any(hint in window for hint in hints) and _SOURCE_BEFORE.search(text, low, start):
                return True
    line_start = text.rfind("\n", low, start) + 1
    if (line_start or start <= 80) and (
        after in _TRANSCRIPT_FIRST or (after == " " and _TRANSCRIPT_HINT.match(text, end))
    ):
        # An analyst's line in a transcript: "Michael Goldsmith, UBS: Asked about ..."
        before = text[line_start:start]
        return bool(
            ("," in before or "(" in before)
            and before.lstrip(" \t-*•")[:1].isupper()
            and _TRANSCRIPT_AFTER.match(text, end)
            and _TRANSCRIPT_BEFORE.search("\n" + before)
        )
    return False


def _mention(text: str, term: Term, start: int, end: int, method: str) -> Mention:
    return _new_mention(Mention, (term.symbol, start, end, text[start:end], method))


_new_mention = tuple.__new__  # builds a Mention without the named tuple's Python-level __new__


def _masked_spans(text: str, markers: Sequence[Hit] = ()) -> list[tuple[int, int]]:
    """URLs, addresses and boilerplate: spans where nothing counts.

    Each kind is looked for from the rare character or word it needs ("/",
    "@", "www.", ":" after a line's label) or from the scanner's marker hits
    (social networks, picture agencies: :data:`MARKERS`), never by trying a
    pattern at every position of the text.
    """
    spans: list[tuple[int, int]] = []
    for anchor in ("/", "@", "www."):
        at = text.find(anchor)
        while at != -1:
            start, end = _token_around(text, at)
            if _ADDRESS.search(text, start, end) or _DOMAIN_PATH.match(text, start, end):
                spans.append((start, end))
            at = text.find(anchor, max(end, at + 1))
    for start, end, terms in markers:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        if terms[0].surface in CREDIT_MARKS or terms[0].surface in PODCAST_MARKS:
            if line_end - line_start <= 200:
                spans.append((line_start, line_end))
        elif _SHARE_BEFORE.search(text, max(line_start, start - 40), start):
            spans.append((start, end))
        elif _SOCIAL_LINE.match(text, line_start, line_end):
            spans.append((line_start, line_end))
    at = text.find(":")
    while at != -1:
        line_start = text.rfind("\n", 0, at) + 1
        if at - line_start <= 44:
            label = " ".join(text[line_start:at].lower().split())
            if label in LIST_LABELS or label.startswith("more from "):
                blank = _BLANK_LINE_AFTER.search(text, at)
                spans.append((line_start, blank.start() if blank else len(text)))
            elif label in CREDIT_LABELS:
                line_end = text.find("\n", at)
                spans.append((line_start, len(text) if line_end == -1 else line_end))
        line_end = text.find("\n", at)
        at = -1 if line_end == -1 else text.find(":", line_end)
    return spans


def _token_around(text: str, at: int) -> tuple[int, int]:
    """The blank-delimited token that contains position ``at`` (tokens longer than 400 characters are cut)."""
    low = at - 400 if at > 400 else 0
    last = _LAST_EDGE.match(text, low, at)
    start = last.end() if last else low
    edge = _TOKEN_EDGE.search(text, at)
    return start, edge.start() if edge else len(text)


def _explicit_forms(text: str, lexicon: Lexicon) -> Iterable[Mention]:
    """Cashtags, exchange-qualified tickers and tickers alone in parentheses."""
    at = text.find("$")
    while at != -1:
        if at == 0 or not (text[at - 1].isalnum() or text[at - 1] in "_$"):
            match = _CASHTAG_AFTER_DOLLAR.match(text, at + 1)
            if match is not None:
                written = match.group(1)
                upper = written.upper()
                if written == upper or (written.islower() and len(written) >= 3):
                    found = lexicon.codes.get(upper)
                    if found:
                        yield _mention(text, found[0], at, match.end(), "cashtag")
        at = text.find("$", at + 1)
    at = text.find(":")
    while at != -1:
        if text.startswith("//", at + 1) or (at and text[at - 1] in _DIGITS):
            at = text.find(":", at + 1)  # a URL's scheme, a time of day
            continue
        tail = text[at - 12 if at > 12 else 0 : at].rstrip()
        last_word = tail[max(tail.rfind(" "), tail.rfind("("), tail.rfind("\n")) + 1 :]
        if last_word not in _EXCHANGE_LAST_WORDS:
            at = text.find(":", at + 1)
            continue
        prefix = _EXCHANGE_BEFORE_COLON.search(text, at - 16 if at > 16 else 0, at)
        if prefix is not None:
            match = _TICKER_AFTER_COLON.match(text, at + 1)
            if match is not None:
                # A ticker the universe does not know still names a listing here, unmistakably.
                written = match.group(1)
                terms = lexicon.tickers(written)
                if (
                    not terms
                    and len(written) > 1
                    and written.replace(".", "-") not in lexicon.known
                    and not _NOT_A_TICKER(written)
                ):
                    terms = (lexicon.unknown(written),)
                for term in terms:
                    yield _mention(text, term, prefix.start(), match.end(), "exchange_ticker")
        at = text.find(":", at + 1)
    if "(" in text:
        doubtful: list[tuple[re.Match[str], Term]] = []
        counted: list[tuple[int, int]] = []
        for match in _PAREN_TICKER.finditer(text):
            found = lexicon.codes.get(match.group(1), ())
            if len(found) != 1 or found[0].kind is not TermKind.TICKER:
                continue
            term = found[0]
            if not term.bare_ok:
                # "(PEP)" after a name is a ticker even though "pep" is a word; "(AI)" or "(ON)" are not.
                base = term.surface.split("-")[0].split(".")[0]
                if len(base) < 3 or base in NEWS_ABBREVIATIONS or not _after_capitalised_word(text, match.start()):
                    doubtful.append((match, term))
                    continue
            counted.append(match.span())
            yield _mention(text, term, match.start(), match.end(), "paren_ticker")
        # In a list of tickers in parentheses, "(SPY), (VOO), (SH), (SDS)", a short one is a ticker too.
        for match, term in doubtful:
            if term.surface not in NEWS_ABBREVIATIONS and any(
                _LIST_GAP.fullmatch(text, end, match.start()) if end <= match.start()
                else _LIST_GAP.fullmatch(text, match.end(), start)
                for start, end in counted
                if 0 <= start - match.end() <= 8 or 0 <= match.start() - end <= 8
            ):
                yield _mention(text, term, match.start(), match.end(), "paren_ticker")


def _name_followed_by_code(text: str, name: Term, start: int, stop: int, lexicon: Lexicon) -> Iterable[Mention]:
    """The ``name_ticker`` and ``name_code`` candidates that start with this name."""
    followers = lexicon.followers.get(name.symbol)
    if not followers:
        return
    ahead = text[stop : stop + 40]
    first = ahead.lstrip(" \t,")[:1]
    # A ticker, a "$" or a legal suffix (capitalised) must come next; or a parenthesis soon after.
    gap = _NAME_TICKER_GAP.match(text, stop) if first.isupper() or first.isdigit() or first == "$" else None
    if gap is not None:
        at = gap.end()
        for code in followers:
            end = at + len(code.surface)
            if text.startswith(code.surface, at) and not _word_char_at(text, end):
                yield _mention(text, name, start, end, "name_ticker")
                break
    opening = _NAME_CODE_OPEN.match(text, stop) if "(" in ahead else None
    if opening is not None:
        at = opening.end()
        for code in followers:
            end = at + len(code.surface)
            if text.startswith(code.surface, at):
                closing = _NAME_CODE_CLOSE.match(text, end)
                if closing is not None:
                    yield _mention(text, name, start, closing.end(), "name_code")
                    break


def _after_capitalised_word(text: str, index: int) -> bool:
    """Whether the word before ``index`` (blanks and a possessive skipped) starts with a capital."""
    words = _WORD.findall(text[max(0, index - 40) : index])
    return bool(words) and words[-1][:1].isupper()


def _word_char_at(text: str, index: int) -> bool:
    return index < len(text) and (text[index].isalnum() or text[index] == "_")


def _has_context(text: str, start: int, end: int) -> bool:
    """Whether a name that is also a common word stands for the company here (see :func:`find_mentions`)."""
    matched = text[start:end]
    after = text[end : end + 40]
    if _SUFFIX_AFTER.match(after):
        return True
    if _NEXT_PROPER_WORD.match(after) or after[:1] == "-" and after[1:2].isalpha() or _PLACE_AFTER.match(after):
        return False  # "Tim Cook", "Southern California", "Apple Music"; "Near-term"; "Palo Alto, Calif."
    before = text[max(0, start - 40) : start]
    stripped = before.rstrip(" \t")
    previous = _WORD.findall(stripped[-30:])
    if previous and stripped.endswith(previous[-1]) and previous[-1][:1].isupper() and previous[-1] not in _OPENERS:
        return False  # "Harrison Ford", "Big Apple"
    sentence_start = not stripped or stripped[-1] in _SENTENCE_END or "\n" in before[len(stripped) :]
    if not sentence_start and matched[:1].isupper() and not matched.isupper():
        return True
    window = (text[max(0, start - CUE_PROXIMITY) : start] + " " + text[end : end + CUE_PROXIMITY]).lower()
    return any(word in CONTEXT_CUES or word.removesuffix("'s") in CONTEXT_CUES for word in _WORD.findall(window))


def _after_first_name(text: str, start: int) -> bool:
    """Whether the word right before ``start`` is a capitalised word that is not an opener ("Glenn Cohen")."""
    before = text[max(0, start - 30) : start]
    stripped = before.rstrip(" ")
    if len(stripped) == len(before) or len(before) - len(stripped) > 1:
        return False
    previous = _WORD.findall(stripped[-25:])
    if not previous or not stripped.endswith(previous[-1]):
        return False
    word = previous[-1]
    return word[:1].isupper() and not word.isupper() and word not in _OPENERS and len(word) > 1


def _market_context(text: str, start: int, end: int) -> bool:
    """Whether a bare ticker stands among market words: "CXW shares fell 5%", not "a prince named BABA".

    Within :data:`CUE_PROXIMITY` characters there must be a market word
    (:data:`CONTEXT_CUES`, :data:`MOVE_WORDS`), a percentage or a dollar
    amount, or another ticker-like word in capitals (a list of tickers);
    and the ticker must not follow "named", "called" or "dubbed".
    """
    before = text[max(0, start - CUE_PROXIMITY) : start]
    if _NAMED_BEFORE.search(before):
        return False
    window = before + text[end : end + CUE_PROXIMITY]
    if "%" in window or "$" in window:
        return True
    for word in _WORD.findall(window):
        lowered = word.lower()
        if lowered in CONTEXT_CUES or lowered in MOVE_WORDS or lowered.removesuffix("'s") in CONTEXT_CUES:
            return True
    return len(_TICKER_LIKE.findall(window)) >= 2


def _inside_proper_name(text: str, start: int, end: int) -> bool:
    """Whether a bare ticker is a word of a longer name in running text: "China AMC earnings"."""
    before = text[max(0, start - 30) : start]
    previous = _WORD.findall(before)
    if not previous or not before.endswith(" " + previous[-1] + " ") and before != previous[-1] + " ":
        return False
    word = previous[-1]
    if not word[:1].isupper() or word.isupper() or word in _OPENERS:
        return False
    following = _WORD.match(text, end + 1) if text[end : end + 1] == " " else None
    return following is not None and following.group()[:1].islower()


def _in_capitals(text: str, start: int, end: int) -> bool:
    """Whether a span sits in a shouted headline: no lower-case letter nearby, and English words around it.

    A list of tickers ("AAPL, MSFT and NVDA") is not shouting; "STOCKS FALL AS FED HOLDS" is.
    """
    window = text[max(0, start - 30) : end + 30]
    if any(ch.islower() for ch in window):
        return False
    ticker = text[start:end]
    return any(word != ticker and word.lower() in COMMON_WORDS for word in _WORD.findall(window))


def _bare_ticker_shape(text: str, start: int, end: int) -> bool:
    """Whether the characters around a ticker let it stand as a bare ticker."""
    if start > 0 and text[start - 1] in _BARE_LEFT_REFUSED:
        return False
    return _BARE_RIGHT_REFUSED.match(text, end) is None


def _resolve_overlaps(candidates: Iterable[Mention]) -> list[Mention]:
    """Keep the longest, most explicit candidates so that no two overlap."""
    unique = set(candidates)
    ordered = sorted(unique, key=_START_SYMBOL)
    if all(a.end <= b.start for a, b in zip(ordered, ordered[1:])):
        return ordered  # nothing overlaps: the common case
    ranked = sorted(
        unique,
        key=lambda m: (-(m.end - m.start), -EXPLICITNESS[m.method], m.start, m.symbol),
    )
    kept: list[Mention] = []
    taken = _Spans()
    for mention in ranked:
        if not taken.overlaps(mention.start, mention.end):
            kept.append(mention)
            taken.add(mention.start, mention.end)
    return sorted(kept, key=_START_SYMBOL)


def _START_SYMBOL(mention: Mention) -> tuple[int, str]:  # noqa: N802 - a sort key, used like a constant
    return mention.start, mention.symbol


class _Spans:
    """Half-open spans, answering "does [start, end) overlap any of them?" by bisection."""

    __slots__ = ("_starts", "_ends")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect_right(self._starts, start) - 1
        if index >= 0 and self._ends[index] > start:
            return True
        following = index + 1
        return following < len(self._starts) and self._starts[following] < end

    def outside(self, hits: Sequence[Hit]) -> list[Hit]:
        """The hits (ordered by start) that overlap no span, in one sweep."""
        starts, ends = self._starts, self._ends
        count = len(starts)
        index = 0
        kept = []
        for hit in hits:
            start = hit[0]
            while index < count and ends[index] <= start:
                index += 1
            if index < count and starts[index] < hit[1]:
                continue
            kept.append(hit)
        return kept

    def add(self, start: int, end: int) -> None:
        """Add a span that overlaps none held (so the lists stay sorted and disjoint)."""
        index = bisect_right(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)


# --------------------------------------------------------------------------- tagger


class Tagger:
    """Tags articles with the taggable instruments of a universe.

    The automaton is built once, here; :meth:`tag` and :meth:`mentions` are
    pure functions of their arguments.

    Parameters
    ----------
    universe
        The universe (:func:`~monitor.tagging.universe.load_universe`), or
        plain instruments (a watchlist); instruments with ``taggable=False``
        (benchmarks) are ignored.
    scanner
        How terms are found; by default an :class:`AhoCorasickScanner` over
        the universe's terms.
    """

    def __init__(self, universe: Universe | Iterable[Instrument], scanner: TermScanner | None = None) -> None:
        self.universe = universe if isinstance(universe, Universe) else Universe.of(universe)
        terms = self.universe.terms()
        self.lexicon = Lexicon(terms, self.universe.instruments)
        crypto = [i.symbol for i in self.universe.instruments.values() if i.asset_class is AssetClass.CRYPTO]
        self.scanner: TermScanner = scanner or AhoCorasickScanner(terms, lower_case_names=crypto)

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """The taggable instruments."""
        return tuple(i for i in self.universe.instruments.values() if i.taggable)

    def mentions(self, text: str) -> list[Mention]:
        """Every mention of a taggable instrument in ``text``, ordered by start.

        See :func:`find_mentions` for the rules.
        """
        return find_mentions(text, self.scanner.scan(text), self.lexicon)

    def tag_many(self, articles: Iterable[tuple[str, str]]) -> Iterator[list[TickerTag]]:
        """Tag many articles, ``(title, body)`` each, yielding their tags in order.

        The same as :meth:`tag` on each, with the cyclic garbage collector
        paused while an article is tagged: a tagged article leaves no cycles
        behind, and the collector's passes over the many small objects of a
        batch cost about a tenth of the time.
        """
        for title, body in articles:
            paused = gc.isenabled()
            gc.disable()
            try:
                tags = self.tag(title, body)
            finally:
                if paused:
                    gc.enable()
            yield tags

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
            Mentions of the ``source`` rule are left out, and so are banks
            and brokers (:data:`BROKER_SYMBOLS`) named in the body only,
            fewer than :data:`BROKER_MIN_MENTIONS` times and never in an
            explicit form: they are quoted, not reported on.
        """
        # A company named only as the source of a view ("Goldman Sachs analysts") is not tagged.
        by_symbol: dict[str, list[Mention]] = {}
        for mention in self.mentions(title + TEXT_SEPARATOR + body):
            if mention.method != "source":
                own = by_symbol.get(mention.symbol)
                if own is None:
                    by_symbol[mention.symbol] = [mention]
                else:
                    own.append(mention)
        if not by_symbol:
            return []
        layout = ArticleLayout.of(title, body)
        for symbol in BROKER_SYMBOLS.intersection(by_symbol):
            own = by_symbol[symbol]
            if len(own) < BROKER_MIN_MENTIONS and not any(
                m.start < layout.title_end or m.method in EXPLICIT_METHODS for m in own
            ):
                del by_symbol[symbol]  # a bank quoted in passing: the source of a view, not the subject
        tags = [
            TickerTag(symbol=symbol, relevance=relevance(own, len(by_symbol), layout), mentions=tuple(own))
            for symbol, own in by_symbol.items()
        ]
        return sorted(tags, key=lambda tag: (-tag.relevance, tag.symbol))


_NO_SPANS = _Spans()
