"""The instrument universe: the watchlist file and the words that name each instrument.

:func:`load_watchlist` reads the watchlist TOML into :class:`~monitor.models.Instrument`
records. :func:`instrument_terms` turns one instrument into the literal
strings (:class:`Term`) a scanner looks for in news text: names, aliases,
tickers, codes and currency pairs. Which occurrences of those strings count as
mentions is decided by the rules in :mod:`monitor.tagging.matcher`.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
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
        defaults to equity; ``calendar`` to ``"XNYS"``, or
        :data:`~monitor.models.CALENDAR_24_7` for crypto; ``benchmark`` to
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
    where = Path(path)
    if not where.is_file():
        raise ConfigError(f"watchlist not found: {where}; set MONITOR_WATCHLIST or create it")
    try:
        document = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read watchlist {where}: {exc.strerror or exc}; check its permissions") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"watchlist {where} is not UTF-8 text; save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"watchlist {where} is not valid TOML: {exc}; fix the syntax there") from exc

    _refuse_unknown_keys(document, _TOP_LEVEL_KEYS, f"watchlist {where}", "at the top level")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"watchlist {where}: [defaults] must be a table")
    _refuse_unknown_keys(defaults, _DEFAULTS_KEYS, f"watchlist {where}", "in [defaults]")
    default_benchmark = _optional_symbol(defaults, "benchmark", f"watchlist {where} [defaults]")

    tables = document.get("instrument", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"watchlist {where} defines no [[instrument]] tables; add at least one")

    instruments: list[Instrument] = []
    seen: dict[str, int] = {}
    for number, table in enumerate(tables, start=1):
        instrument = _parse_instrument(table, default_benchmark, f"watchlist {where} [[instrument]] #{number}")
        if instrument.symbol in seen:
            raise ConfigError(
                f"watchlist {where} lists symbol {instrument.symbol} twice "
                f"(instruments #{seen[instrument.symbol]} and #{number}); keep one"
            )
        seen[instrument.symbol] = number
        instruments.append(instrument)
    logger.debug("loaded %d instruments from %s", len(instruments), where)
    return instruments


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
    calendar = _optional_text(table, "calendar", where) or (CALENDAR_24_7 if is_crypto else DEFAULT_CALENDAR)
    if "benchmark" in table:
        benchmark = _optional_symbol(table, "benchmark", where)
    else:
        benchmark = None if is_crypto else default_benchmark

    taggable = table.get("taggable", True)
    if not isinstance(taggable, bool):
        raise ConfigError(f"{where}: taggable must be true or false, not {taggable!r}")

    return Instrument(
        symbol=symbol,
        name=name,
        asset_class=asset_class,
        calendar=calendar,
        benchmark=benchmark,
        exchange=_optional_text(table, "exchange", where),
        aliases=_text_list(table, "aliases", where),
        codes=tuple(code.upper() for code in _text_list(table, "codes", where)),
        taggable=taggable,
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
    ALIAS = "alias"  #: another name (legal, former, brand)
    TICKER = "ticker"  #: the trading symbol, as news writes it
    CODE = "code"  #: a short code that counts in explicit forms only
    PAIR = "pair"  #: a currency pair (BTC/USD, BTC-USD, BTCUSD)


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
    """

    surface: str
    symbol: str
    kind: TermKind
    bare_ok: bool = True


def instrument_terms(instrument: Instrument) -> list[Term]:
    """List the strings that may name ``instrument`` in news text.

    Names and aliases lose a leading "The"/"the" (so "The GEO Group, Inc."
    is looked for as "GEO Group, Inc." and the article is never part of a
    span). The ticker is the symbol; a Yahoo class suffix ``BRK-B`` is also
    looked for as ``BRK.B``. Crypto symbols (``BTC-USD``) are pairs, and the
    base of the symbol joins the codes. Codes of crypto instruments are also
    combined with :data:`QUOTE_CURRENCIES` into pairs. Each surface appears
    once; a name wins over an alias of the same spelling.

    Parameters
    ----------
    instrument
        The instrument.

    Returns
    -------
    list of Term
    """
    terms: dict[str, Term] = {}

    def add(surface: str, kind: TermKind, bare_ok: bool = True) -> None:
        if surface and surface not in terms:
            terms[surface] = Term(surface, instrument.symbol, kind, bare_ok)

    for kind, names in ((TermKind.NAME, (instrument.name,)), (TermKind.ALIAS, instrument.aliases)):
        for name in names:
            add(_LEADING_ARTICLE.sub("", name.strip()), kind)

    codes = list(instrument.codes)
    if instrument.asset_class is AssetClass.CRYPTO:
        base, _, quote = instrument.symbol.partition("-")
        if quote:
            add(instrument.symbol, TermKind.PAIR)
        if base not in codes:
            codes.append(base)
        for code in codes:
            for quote_currency in QUOTE_CURRENCIES:
                for separator in PAIR_SEPARATORS:
                    add(f"{code}{separator}{quote_currency}", TermKind.PAIR)
    elif _TICKER_SHAPE.match(instrument.symbol):
        bare_ok = is_unambiguous_ticker(instrument.symbol)
        add(instrument.symbol, TermKind.TICKER, bare_ok)
        if "-" in instrument.symbol:
            add(instrument.symbol.replace("-", "."), TermKind.TICKER, bare_ok)
    for code in codes:
        add(code, TermKind.CODE)
    return list(terms.values())


def is_unambiguous_ticker(ticker: str) -> bool:
    """Tell whether a ticker may count on its own, without its name nearby.

    A ticker of one or two characters, or one that spells a common English
    word (:data:`COMMON_WORDS`, compared case-insensitively), is ambiguous.
    """
    return len(ticker) > 2 and ticker.lower() not in COMMON_WORDS


def taggable_terms(instruments: Iterable[Instrument]) -> list[Term]:
    """The terms of every taggable instrument, in instrument order."""
    return [term for instrument in instruments if instrument.taggable for term in instrument_terms(instrument)]


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
