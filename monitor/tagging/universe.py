"""The instrument universe: the watchlist file and the words that name each instrument.

:func:`load_watchlist` reads the watchlist TOML into :class:`~monitor.models.Instrument`
records. :func:`instrument_terms` turns one instrument into the literal
strings (:class:`Term`) a scanner looks for in news text: names, aliases,
tickers, codes and currency pairs. Which occurrences of those strings count as
mentions is decided by the rules in :mod:`monitor.tagging.matcher`.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from monitor import calendars
from monitor.errors import CalendarError, ConfigError
from monitor.models import CALENDAR_24_7, AssetClass, Instrument

logger = logging.getLogger(__name__)

#: The calendar of every instrument that is not crypto, unless the watchlist says otherwise.
DEFAULT_CALENDAR = "XNYS"

_TOP_LEVEL_KEYS = frozenset({"defaults", "instrument"})
_DEFAULTS_KEYS = frozenset({"benchmark"})
_INSTRUMENT_KEYS = frozenset(
    {
        "symbol",
        "name",
        "aliases",
        "codes",
        "asset_class",
        "exchange",
        "calendar",
        "benchmark",
        "taggable",
        "brands",
        "context",
    }
)


# --------------------------------------------------------------------------- watchlist


def load_watchlist(path: str | os.PathLike[str]) -> list[Instrument]:
    """Read the watchlist TOML file into instruments, in file order.

    The format is documented at the top of ``seeds/watchlist.toml``: an
    optional ``[defaults]`` table with ``benchmark`` and one ``[[instrument]]``
    table per instrument.

    Parameters
    ----------
    path
        The watchlist file.

    Returns
    -------
    list of Instrument
        Symbols and codes are stripped and upper-cased. ``asset_class``
        defaults to equity; ``calendar`` to the listing's
        (:func:`monitor.calendars.calendar_for`: ``XNYS``, ``XNAS`` for
        Nasdaq, ``XLON`` for ``.L`` ...), :data:`~monitor.models.CALENDAR_24_7`
        for crypto and FX; ``benchmark`` to
        ``[defaults] benchmark`` (``None`` for crypto), an empty string
        meaning ``None``; ``taggable`` to true.

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, is not valid TOML, or an
        instrument lacks its symbol or name, has an unknown asset class, a
        duplicate symbol, an unknown key or a value of the wrong type. The
        message names the file and what to fix.
    """
    default_benchmark, tables = read_instrument_tables(path, "watchlist")
    return [_parse_instrument(table, default_benchmark, where) for where, table in tables]


def read_instrument_tables(
    path: str | os.PathLike[str], label: str
) -> tuple[str | None, list[tuple[str, dict[str, Any]]]]:
    """Read a file of ``[[instrument]]`` tables: the default benchmark and each table with its place.

    Checks the file's structure, unknown keys and duplicate symbols; the
    tables themselves are parsed by the caller.
    """
    where = Path(path)
    if not where.is_file():
        hint = "set MONITOR_WATCHLIST or create it" if label == "watchlist" else "restore it from the repository"
        raise ConfigError(f"{label} not found: {where}; {hint}")
    try:
        document = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {label} {where}: {exc.strerror or exc}; check its permissions") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label} {where} is not UTF-8 text; save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label} {where} is not valid TOML: {exc}; fix the syntax there") from exc

    _refuse_unknown_keys(document, _TOP_LEVEL_KEYS, f"{label} {where}", "at the top level")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{label} {where}: [defaults] must be a table")
    _refuse_unknown_keys(defaults, _DEFAULTS_KEYS, f"{label} {where}", "in [defaults]")
    default_benchmark = _optional_symbol(defaults, "benchmark", f"{label} {where} [defaults]")

    tables = document.get("instrument", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{label} {where} defines no [[instrument]] tables; add at least one")

    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for number, table in enumerate(tables, start=1):
        place = f"{label} {where} [[instrument]] #{number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{place} must be a table")
        _refuse_unknown_keys(table, _INSTRUMENT_KEYS, place, "")
        symbol = _required_text(table, "symbol", place).upper()
        if symbol in seen:
            raise ConfigError(
                f"{label} {where} lists symbol {symbol} twice "
                f"(instruments #{seen[symbol]} and #{number}); keep one"
            )
        seen[symbol] = number
        out.append((place, table))
    logger.debug("read %d instrument tables from %s", len(out), where)
    return default_benchmark, out


def _parse_instrument(table: Any, default_benchmark: str | None, where: str) -> Instrument:
    """Build one instrument from its ``[[instrument]]`` table; ``where`` prefixes errors."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    _refuse_unknown_keys(table, _INSTRUMENT_KEYS, where, "")
    symbol = _required_text(table, "symbol", where).upper()
    where = f"{where} ({symbol})"
    name = _required_text(table, "name", where)

    raw_class = _optional_text(table, "asset_class", where) or AssetClass.EQUITY.value
    try:
        asset_class = AssetClass(raw_class.lower())
    except ValueError:
        choices = " | ".join(member.value for member in AssetClass)
        raise ConfigError(f"{where} has unknown asset_class {raw_class!r}; use one of {choices}") from None

    is_crypto = asset_class is AssetClass.CRYPTO
    calendar = _optional_text(table, "calendar", where)
    if calendar is None:
        try:
            calendar = calendars.calendar_for(
                symbol, exchange=_optional_text(table, "exchange", where), asset_class=asset_class.value
            )
        except CalendarError as exc:
            raise ConfigError(f"{where}: {exc}; give calendar = \"...\" (an exchange_calendars code)") from None
    if "benchmark" in table:
        benchmark = _optional_symbol(table, "benchmark", where)
    else:
        benchmark = None if is_crypto else default_benchmark

    taggable = table.get("taggable", True)
    if not isinstance(taggable, bool):
        raise ConfigError(f"{where}: taggable must be true or false, not {taggable!r}")

    aliases = _text_list(table, "aliases", where)
    brands = _text_list(table, "brands", where)
    context = _text_list(table, "context", where)
    unknown = sorted(set(context) - {name, *aliases, *brands})
    if unknown:
        raise ConfigError(
            f"{where}: context lists {', '.join(unknown)}, which is not its name, an alias or a brand; "
            "context may only mark those"
        )
    return Instrument(
        symbol=symbol,
        name=name,
        asset_class=asset_class,
        calendar=calendar,
        benchmark=benchmark,
        exchange=_optional_text(table, "exchange", where),
        aliases=aliases,
        codes=tuple(code.upper() for code in _text_list(table, "codes", where)),
        taggable=taggable,
        brands=brands,
        context=context,
    )


def _refuse_unknown_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str, place: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        location = f" {place}" if place else ""
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(unknown)}{location}; "
            f"allowed are {', '.join(sorted(allowed))}"
        )


def _required_text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = _optional_text(table, key, where)
    if not value:
        raise ConfigError(f"{where} has no {key}; add {key} = \"...\"")
    return value


def _optional_text(table: Mapping[str, Any], key: str, where: str) -> str | None:
    """The stripped string under ``key``, ``None`` if absent or empty."""
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, not {value!r}")
    return value.strip() or None


def _optional_symbol(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _optional_text(table, key, where)
    return value.upper() if value else None


def _text_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: {key} must be a list of strings, like {key} = [\"...\"]")
    return tuple(item.strip() for item in value if item.strip())


# --------------------------------------------------------------------------- terms


class TermKind(StrEnum):
    """What a literal string is to its instrument."""

    NAME = "name"  #: the instrument's name
    ALIAS = "alias"  #: another name (legal, short, former)
    BRAND = "brand"  #: a brand or subsidiary that stands for it
    TICKER = "ticker"  #: the trading symbol, as news writes it
    CODE = "code"  #: a short code that counts in explicit forms only
    PAIR = "pair"  #: a currency pair (BTC/USD, BTC-USD, BTCUSD)
    MARKER = "marker"  #: not an instrument: a word the boilerplate rules look for ("Facebook", "Getty Images")


_NAME_KINDS = frozenset({TermKind.NAME, TermKind.ALIAS, TermKind.BRAND})

#: Quote currencies that make a crypto code a pair: ``BTC`` + ``USD`` -> ``BTC/USD``.
QUOTE_CURRENCIES = ("USD", "USDT", "USDC", "EUR", "GBP", "JPY")
#: Separators between the two halves of a pair; the empty one gives ``BTCUSD``.
PAIR_SEPARATORS = ("/", "-", "")

_LEADING_ARTICLE = re.compile(r"^(?:the|The)\s+")
_TICKER_SHAPE = re.compile(r"^[A-Z0-9]+(?:[.-][A-Z0-9]+)?$")


@dataclass(frozen=True)
class Term:
    """A literal string that may name an instrument.

    ``bare_ok`` applies to tickers: false when the ticker is short or an
    English word, so that alone it counts only near the instrument's name.
    ``context`` applies to names: true when the name is also a common word
    or a person's name, so that it counts only with context.
    """

    surface: str
    symbol: str
    kind: TermKind
    bare_ok: bool = True
    context: bool = False
    #: ``kind`` as a plain string, and whether it is a name, alias or brand: the matcher's hot loop
    #: reads these instead of hashing the enum.
    rule: str = field(init=False, repr=False, compare=False)
    is_name: bool = field(init=False, repr=False, compare=False)
    #: The first word of a name of several words ("Constellation" of "Constellation Brands"), else "".
    first_word: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", str(self.kind.value))
        object.__setattr__(self, "is_name", self.kind in _NAME_KINDS)
        head, space, _ = self.surface.partition(" ")
        object.__setattr__(self, "first_word", head if space and self.kind in _NAME_KINDS else "")


def instrument_terms(instrument: Instrument, *, names: bool = True, word_ticker: bool = False) -> list[Term]:
    """List the strings that may name ``instrument`` in news text.

    Names, aliases and brands lose a leading "The"/"the" (so "The GEO Group,
    Inc." is looked for as "GEO Group, Inc." and the article is never part of
    a span); those listed in ``instrument.context`` are marked as needing
    context. The ticker is the symbol; a Yahoo class suffix ``BRK-B`` is also
    looked for as ``BRK.B``. Crypto symbols (``BTC-USD``) are pairs, and the
    base of the symbol joins the codes unless codes are given (``SUI`` for
    ``SUI20947-USD``). Codes of crypto instruments are also combined with
    :data:`QUOTE_CURRENCIES` into pairs. Each surface appears once; a name
    wins over an alias of the same spelling, an alias over a brand.

    Parameters
    ----------
    instrument
        The instrument.
    names
        False for a secondary line of an issuer (a preferred share): its
        ticker only.
    word_ticker
        True when the ticker is known to be an English word: alone it then
        counts only near the name.

    Returns
    -------
    list of Term
    """
    terms: dict[str, Term] = {}
    needs_context = {_LEADING_ARTICLE.sub("", name.strip()) for name in instrument.context}

    def add(surface: str, kind: TermKind, bare_ok: bool = True) -> None:
        if surface and surface not in terms:
            terms[surface] = Term(surface, instrument.symbol, kind, bare_ok, surface in needs_context)

    if names:
        for kind, group in (
            (TermKind.NAME, (instrument.name,)),
            (TermKind.ALIAS, instrument.aliases),
            (TermKind.BRAND, instrument.brands),
        ):
            for name in group:
                add(_LEADING_ARTICLE.sub("", name.strip()), kind)

    codes = list(instrument.codes)
    if instrument.asset_class is AssetClass.CRYPTO:
        base, _, quote = instrument.symbol.partition("-")
        if quote:
            add(instrument.symbol, TermKind.PAIR)
        if not codes:
            codes.append(base)
        for code in codes:
            for quote_currency in QUOTE_CURRENCIES:
                for separator in PAIR_SEPARATORS:
                    add(f"{code}{separator}{quote_currency}", TermKind.PAIR)
    elif _TICKER_SHAPE.match(instrument.symbol):
        bare_ok = not word_ticker and is_unambiguous_ticker(instrument.symbol)
        add(instrument.symbol, TermKind.TICKER, bare_ok)
        if "-" in instrument.symbol:
            add(instrument.symbol.replace("-", "."), TermKind.TICKER, bare_ok)
    for code in codes:
        add(code, TermKind.CODE)
    return list(terms.values())


def is_unambiguous_ticker(ticker: str) -> bool:
    """Tell whether a ticker may count on its own, without its name nearby.

    A ticker of one or two characters, one that spells a common English word
    (:data:`COMMON_WORDS`, compared case-insensitively) or a common
    abbreviation of news text (:data:`NEWS_ABBREVIATIONS`: "AI", "CEO",
    "ETF") is ambiguous.
    """
    base = ticker.split("-")[0].split(".")[0]
    return len(base) > 2 and base.lower() not in COMMON_WORDS and base.upper() not in NEWS_ABBREVIATIONS


#: Abbreviations common in news that are also tickers: alone they never mean the ticker.
NEWS_ABBREVIATIONS: frozenset[str] = frozenset(
    """
    AI API AR VR EV EVS ETF ETFS ETN CEO CFO COO CTO CIO IPO IPOS GDP CPI PPI PCE EPS ESG USA US UK EU UN
    FDA SEC FED FBI CIA DOJ FTC IRS NASA NATO WHO OPEC LNG WTI EBIT EBITDA FCF GAAP AUM BPS YOY QOQ YTD
    ATH OTC ADR ADRS REIT REITS NAV ROI ROE ROA LLC INC CORP PLC LTD CO TV PC PCS IT HR PR IR NFL NBA MLB
    NHL MLS NCAA FIFA UFC DEI SPAC SPACS M&A AM PM EST EDT PST GMT UTC CNBC CNN BBC NYT WSJ FT AP
    NIM NII NPL NOI FFO AFFO ARR MRR TAM KPI OEM ODM SKU DTC CAGR LTV CAC ARPU DAU MAU GPU CPU TPU HBM DRAM
    NAND SSD LLM AGI SAAS ERP CRM HHS CMS CDC NIH EPA DOE DOD DOT FAA FCC FERC OCC FDIC CFPB BLS BEA ISM PMI
    CRE RMBS CMBS CLO CDO ABS MBS HY IG BDC MLP NGL PCB EMS ICE ATM IRA HSA ACA ADP JOLTS NFP CPI GLP
    BTC ETH ASM RPT WTO IMF ECB BOE BOJ PBOC RBA SNB ESMA OECD UAW UPS NYC LA DC SF UAE KSA
    """.split()
)


#: Common English words (and word-like abbreviations) that are also plausible
#: tickers: a ticker spelt like one of them is ambiguous on its own.
COMMON_WORDS: frozenset[str] = frozenset(
    """
    a able about above act add after again age ago agree aid aim air all also am
    an and any app are area arm army art as ask at away baby back bad bag ball
    band bank bar base be bear beat bed been best bet big bill bit black blue
    board boat body bond book boom born both box boy brand bread break bring
    build bull burn bus but buy by call came camp can cap car card care case
    cash cat cell cent chip city clean clear club coal coat code cold come cook
    cool cop core corn cost could cow cut data date day dead deal dear deep did
    die dig dish do does dog done door down draw drug dry due duck each ear
    early earn east easy eat edge egg else end era even ever eye face fact fair
    fall fan far farm fast fat fear fee feed feel few file fill film find fine
    fire firm fish fit five fix flat flow fly fold food foot for form four free
    from fuel full fun fund gain game gap gas gate gave geo get gift girl give
    glad go goal gold gone good got grow gun guy had hair half hall hand hang
    hard has hat have he head hear heat held help her here hero hi high hill
    him his hit hold hole home hope hot hour how huge hung i ice idea if in
    inch into iron is it item its job join joy just keep key kid kind king
    knee know lab lack lady land last late law lay lead leaf lean left leg less
    let life lift like line link list live load loan lock long look lord lose
    loss lost lot loud love low luck made mail main make man many map mark
    mass may me meal mean meat meet men menu met mid might mile milk mind mine
    miss mix mode more most move much must my name near neck need net new news
    next nice night no none nor nose not note now nut oak odd of off oil ok old
    on once one only open or oral other our out over own pace pack page paid
    pain pair pal park part pass past path pay peak pen per pet pick pie pig
    pin pink plan play plus pod pool poor pop port post pot pray pure push put
    race rain ran rare rate raw read real red rent rest rich ride ring rise
    risk road rock role roll roof room root rose rule run safe said sale salt
    same sand save saw say sea seat see seed seek seem seen self sell send set
    she ship shoe shop shot show shut sick side sign sing sit six size ski skin
    sky slow snow so soft soil sold some son song soon sort soul spot star stay
    step still stop such suit sun sure take tale talk tall tank tap tax tea
    team tear tell ten term test than that the them then they thin this those
    tie till time tiny tip to told tone too took top tour town toy tree trip
    true try turn twin two type unit up upon us use used user van vast very
    via view vote wage wait walk wall want war warm was wash way we weak wear
    week well went were west wet what when who why wide wife will win wind
    wine wing wire wise wish with wood word wore work yard year yes yet you
    young your zero zone
    """.split()
)


# --------------------------------------------------------------------------- the universe

#: Files of the bundled universe, in ``Settings.universe_folder``.
LISTED_FILE = "listed.csv"
CURATED_FILE = "curated.toml"
CRYPTO_FILE = "crypto.toml"

#: Trading calendar of a US listing by its exchange; anything else trades on the NYSE calendar.
EXCHANGE_CALENDARS: Mapping[str, str] = {"nasdaq": "XNAS"}


@dataclass(frozen=True)
class Universe:
    """Every instrument the tagger knows, with where each came from.

    ``instruments`` is in rank order: the watchlist first, then the curated
    entries, the crypto list and the US listings in the SEC's order (largest
    first). When two instruments share a name, the first in this order keeps it.
    """

    instruments: Mapping[str, Instrument]
    #: Symbols whose bare ticker is ambiguous (an English word, one or two letters).
    word_tickers: frozenset[str] = frozenset()
    #: Share classes, preferreds and warrants listed after their issuer's main line: no names of their own.
    secondary: frozenset[str] = frozenset()
    #: SEC issuer number of each listed symbol; symbols sharing one are one company.
    cik: Mapping[str, int] = field(default_factory=dict)
    #: Which files defined or amended each symbol (listed, curated, crypto, watchlist).
    origins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, instruments: Iterable[Instrument]) -> Universe:
        """A universe of just these instruments (a watchlist), in their order."""
        table = {i.symbol: i for i in instruments}
        return cls(instruments=table, origins={symbol: ("watchlist",) for symbol in table})

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.instruments

    def __len__(self) -> int:
        return len(self.instruments)

    def get(self, symbol: str) -> Instrument | None:
        """The instrument of ``symbol`` (case-insensitive), or ``None``."""
        return self.instruments.get(symbol.strip().upper())

    def issuer_symbols(self, symbol: str) -> tuple[str, ...]:
        """Every symbol of the same issuer (share classes), ``symbol`` first."""
        cik = self.cik.get(symbol)
        if cik is None:
            return (symbol,)
        return (symbol, *(other for other, number in self.cik.items() if number == cik and other != symbol))

    def terms(self) -> list[Term]:
        """The terms of every taggable instrument; a name belongs to the first instrument that has it."""
        out: list[Term] = []
        owner: dict[tuple[str, bool], str] = {}
        crypto_codes = {
            code
            for instrument in self.instruments.values()
            if instrument.asset_class is AssetClass.CRYPTO and instrument.taggable
            for code in (instrument.codes or (instrument.symbol.partition("-")[0],))
        }
        for instrument in self.instruments.values():
            if not instrument.taggable:
                continue
            named = instrument.symbol not in self.secondary
            word_ticker = instrument.symbol in self.word_tickers or (
                instrument.asset_class is not AssetClass.CRYPTO and instrument.symbol in crypto_codes
            )
            for term in instrument_terms(instrument, names=named, word_ticker=word_ticker):
                if term.is_name:
                    key = (term.surface.casefold(), True)
                    if owner.setdefault(key, instrument.symbol) != instrument.symbol:
                        continue
                out.append(term)
        return out

    def search(self, query: str, limit: int = 20) -> list[Instrument]:
        """Instruments whose symbol is ``query``, then those whose names contain it (case-insensitive)."""
        exact = self.get(query)
        needle = query.strip().casefold()
        found = [exact] if exact else []
        if not needle:
            return found
        for instrument in self.instruments.values():
            if len(found) >= limit:
                break
            if instrument is exact:
                continue
            names = (instrument.name, *instrument.aliases, *instrument.brands)
            if any(needle in name.casefold() for name in names):
                found.append(instrument)
        return found


def load_universe(
    folder: str | os.PathLike[str] | None,
    watchlist: str | os.PathLike[str] | None = None,
) -> Universe:
    """Load the universe: US listings, curated entries, crypto, then the user's watchlist.

    Parameters
    ----------
    folder
        The universe folder (``seeds/universe``) with ``listed.csv``,
        ``curated.toml`` and ``crypto.toml``; ``None`` for the watchlist alone.
    watchlist
        The user's watchlist; its entries add instruments or override those
        of the folder (name, asset class, calendar, benchmark, taggable), and
        add their aliases, brands and codes to them.

    Raises
    ------
    ConfigError
        If a file is missing or malformed; the message names the file and line.
    """
    default_benchmark: str | None = None
    watch_tables: list[tuple[str, dict[str, Any]]] = []
    if watchlist is not None:
        default_benchmark, watch_tables = read_instrument_tables(watchlist, "watchlist")

    listed: dict[str, Instrument] = {}
    word_tickers: set[str] = set()
    secondary: set[str] = set()
    cik: dict[str, int] = {}
    origins: dict[str, list[str]] = defaultdict(list)
    if folder is not None:
        base = Path(folder)
        for instrument, number, flags in _read_listed(base / LISTED_FILE, default_benchmark):
            listed[instrument.symbol] = instrument
            cik[instrument.symbol] = number
            origins[instrument.symbol].append("listed")
            if "word_ticker" in flags:
                word_tickers.add(instrument.symbol)
            if "secondary" in flags:
                secondary.add(instrument.symbol)
        layers = [(CURATED_FILE, "curated"), (CRYPTO_FILE, "crypto")]
    else:
        layers = []

    ranked: dict[str, Instrument] = {}
    for file_name, label in layers:
        _, tables = read_instrument_tables(Path(folder) / file_name, f"universe file {label}")  # type: ignore[arg-type]
        for where, table in tables:
            symbol = str(table["symbol"]).strip().upper()
            known = ranked.get(symbol) or listed.get(symbol)
            ranked[symbol] = _overlay(known, table, default_benchmark, where)
            origins[symbol].append(label)
    for where, table in watch_tables:
        symbol = str(table["symbol"]).strip().upper()
        known = ranked.get(symbol) or listed.get(symbol)
        ranked[symbol] = _overlay(known, table, default_benchmark, where, watchlist=True)
        origins[symbol].append("watchlist")

    watch_first = [symbol for _, table in watch_tables for symbol in [str(table["symbol"]).strip().upper()]]
    order = [*watch_first, *(s for s in ranked if s not in watch_first), *(s for s in listed if s not in ranked)]
    instruments = {symbol: ranked.get(symbol) or listed[symbol] for symbol in order}
    return Universe(
        instruments=instruments,
        word_tickers=frozenset(word_tickers),
        secondary=frozenset(secondary),
        cik=cik,
        origins={symbol: tuple(found) for symbol, found in origins.items()},
    )


_LISTED_COLUMNS = ("symbol", "cik", "exchange", "asset_class", "name", "aliases", "context", "flags")


def _read_listed(path: Path, default_benchmark: str | None) -> Iterable[tuple[Instrument, int, set[str]]]:
    """The rows of ``listed.csv`` as instruments, with their issuer number and flags."""
    if not path.is_file():
        raise ConfigError(f"universe file not found: {path}; restore it from the repository")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read universe file {path}: {exc}; restore it from the repository") from exc
    body = [(number, line) for number, line in enumerate(lines, start=1) if line and not line.startswith("#")]
    reader = csv.reader([line for _, line in body])
    header = next(reader, None)
    if header is None or tuple(header) != _LISTED_COLUMNS:
        raise ConfigError(f"universe file {path} does not start with the columns {','.join(_LISTED_COLUMNS)}")
    for (number, _), row in zip(body[1:], reader, strict=True):
        if len(row) != len(_LISTED_COLUMNS):
            raise ConfigError(f"universe file {path} line {number}: expected {len(_LISTED_COLUMNS)} fields")
        symbol, issuer, exchange, asset_class, name, aliases, context, flags = row
        try:
            kind = AssetClass(asset_class or AssetClass.EQUITY.value)
            issuer_number = int(issuer)
        except ValueError:
            raise ConfigError(f"universe file {path} line {number}: bad asset class or CIK") from None
        yield (
            Instrument(
                symbol=symbol,
                name=name or symbol,
                asset_class=kind,
                calendar=EXCHANGE_CALENDARS.get(exchange.lower(), DEFAULT_CALENDAR),
                benchmark=default_benchmark,
                exchange=exchange or None,
                aliases=tuple(a for a in aliases.split("|") if a),
                context=tuple(c for c in context.split("|") if c),
            ),
            issuer_number,
            set(flags.split()),
        )


def _overlay(
    known: Instrument | None,
    table: Mapping[str, Any],
    default_benchmark: str | None,
    where: str,
    *,
    watchlist: bool = False,
) -> Instrument:
    """Apply one ``[[instrument]]`` table on top of what the universe already holds for its symbol.

    Scalars given in the table replace the known ones; aliases, brands, codes
    and context are added to them. A table for a new symbol must be complete
    (at least a name).
    """
    if known is None:
        return _parse_instrument(dict(table), default_benchmark, where)
    merged: dict[str, Any] = {
        "symbol": known.symbol,
        "name": known.name,
        "asset_class": known.asset_class.value,
        "calendar": known.calendar,
        "benchmark": known.benchmark or "",
        "taggable": known.taggable,
        "aliases": list(known.aliases),
        "brands": list(known.brands),
        "codes": list(known.codes),
        "context": list(known.context),
    }
    if known.exchange:
        merged["exchange"] = known.exchange
    for key, value in table.items():
        if key in {"aliases", "brands", "codes", "context"} and isinstance(value, list):
            merged[key] = [*merged[key], *(v for v in value if v not in merged[key])]
        else:
            merged[key] = value
    if "name" in table and known.name != merged["name"] and known.name not in merged["aliases"]:
        # The registry's form stays findable under the better name.
        merged["aliases"] = [known.name, *merged["aliases"]]
    if "asset_class" in table and "calendar" not in table and str(table["asset_class"]).lower() == "crypto":
        merged["calendar"] = CALENDAR_24_7
    return _parse_instrument(merged, default_benchmark, where)


def describe(universe: Universe, symbol: str, lexicon: Any = None) -> dict[str, Any]:
    """What the tagger knows about one symbol, for ``monitor universe``.

    Parameters
    ----------
    universe
        The universe.
    symbol
        A symbol of the universe.
    lexicon
        The tagger's :class:`~monitor.tagging.matcher.Lexicon`, to tell which
        names this instrument actually owns (a name shared with a larger
        company belongs to that one).

    Returns
    -------
    dict
        JSON-ready: identity, names, how its ticker is treated, origins.
    """
    instrument = universe.instruments[symbol]
    terms = [t for t in universe.terms() if t.symbol == symbol]
    owned = {t.surface for t in terms if t.kind in _NAME_KINDS}
    every_name = [instrument.name, *instrument.aliases, *instrument.brands]
    ticker_terms = [t for t in terms if t.kind is TermKind.TICKER]
    if not instrument.taggable:
        ticker_rule = "not tagged (taggable = false): priced only"
    elif not ticker_terms:
        ticker_rule = "no ticker form: found by its names, codes and pairs"
    elif len(instrument.symbol) == 1:
        ticker_rule = "one letter: only in explicit forms ($A, NYSE: A, name (A))"
    elif ticker_terms[0].bare_ok:
        ticker_rule = "counts bare anywhere, and in every explicit form"
    else:
        ticker_rule = "a word or abbreviation: bare only near its name; explicit forms always"
    return {
        "symbol": instrument.symbol,
        "name": instrument.name,
        "asset_class": instrument.asset_class.value,
        "exchange": instrument.exchange,
        "calendar": instrument.calendar,
        "benchmark": instrument.benchmark,
        "taggable": instrument.taggable,
        "aliases": list(instrument.aliases),
        "brands": list(instrument.brands),
        "codes": list(instrument.codes),
        "need_context": list(instrument.context),
        "names_held_by_others": [n for n in every_name if n and _LEADING_ARTICLE.sub("", n) not in owned],
        "ticker": ticker_rule,
        "pairs": sorted(t.surface for t in terms if t.kind is TermKind.PAIR)[:12],
        "issuer_cik": universe.cik.get(symbol),
        "same_issuer": [s for s in universe.issuer_symbols(symbol) if s != symbol],
        "secondary_line": symbol in universe.secondary,
        "origin": list(universe.origins.get(symbol, ())),
    }
