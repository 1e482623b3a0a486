"""Tests of monitor.tagging: the watchlist file, the mention rules and relevance."""

from __future__ import annotations

import string
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.models import CALENDAR_24_7, TEXT_SEPARATOR, AssetClass, Instrument, Mention
from monitor.tagging import ArticleLayout, Tagger, instrument_terms, load_watchlist, relevance

ROOT = Path(__file__).resolve().parents[1]
SEED_WATCHLIST = ROOT / "seeds" / "watchlist.toml"
SEED_ARTICLE = ROOT / "seeds" / "news" / "2025-02-04-el-salvador-prison-offer.txt"


def equity(symbol: str, name: str, *aliases: str) -> Instrument:
    return Instrument(symbol=symbol, name=name, aliases=aliases, exchange="NYSE", benchmark="SPY")


BITCOIN = Instrument(
    symbol="BTC-USD", name="Bitcoin", asset_class=AssetClass.CRYPTO, calendar=CALENDAR_24_7, codes=("BTC", "XBT")
)
CORECIVIC = equity("CXW", "CoreCivic", "CoreCivic, Inc.", "Corrections Corporation of America")
GEO = equity("GEO", "GEO Group", "The GEO Group, Inc.", "GEO Group, Inc.")
TESLA = equity("TSLA", "Tesla", "Tesla, Inc.")
APPLE = equity("AAPL", "Apple")
AGILENT = equity("A", "Agilent Technologies")
ALLSTATE = equity("ALL", "Allstate")
GARTNER = equity("IT", "Gartner")
SPY = Instrument(symbol="SPY", name="SPDR S&P 500 ETF Trust", asset_class=AssetClass.ETF, taggable=False)
WORD_TICKERS = (equity("ON", "onsemi"), equity("NOW", "ServiceNow"), equity("CAT", "Caterpillar"))
UNIVERSE = (BITCOIN, CORECIVIC, GEO, TESLA, APPLE, AGILENT, ALLSTATE, GARTNER, SPY, *WORD_TICKERS)
UNIVERSE_TAGGER = Tagger(UNIVERSE)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return UNIVERSE_TAGGER


def read_seed_article(path: Path) -> tuple[date, str, str]:
    """Split a seed news file into (date, title, body).

    The file reads ``date YYYY-MM-DD <text>``; the first line of the text is
    the title, the remaining lines the body.
    """
    keyword, day, text = path.read_text(encoding="utf-8").split(maxsplit=2)
    assert keyword == "date"
    title, _, body = text.partition("\n")
    return date.fromisoformat(day), title.strip(), body.strip()


def found(tagger: Tagger, text: str) -> list[tuple[str, str, str]]:
    """(symbol, method, matched) of every mention, checking that spans slice to the matched text."""
    mentions = tagger.mentions(text)
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.matched
    return [(m.symbol, m.method, m.matched) for m in mentions]


# --------------------------------------------------------------------------- the seed article


def test_seed_article_is_tagged_with_exactly_its_three_instruments() -> None:
    day, title, body = read_seed_article(SEED_ARTICLE)
    assert day == date(2025, 2, 4)
    tags = Tagger(load_watchlist(SEED_WATCHLIST)).tag(title, body)

    text = title + TEXT_SEPARATOR + body
    got = {tag.symbol: [(m.matched, m.method) for m in tag.mentions] for tag in tags}
    # The leading "the" of "the GEO Group, Inc. GEO" is not part of the span.
    assert got == {
        "CXW": [("CoreCivic, Inc. CXW", "name_ticker")],
        "GEO": [("GEO Group, Inc. GEO", "name_ticker")],
        "BTC-USD": [("Bitcoin BTC/USD", "name_ticker")],
    }
    for tag in tags:
        for mention in tag.mentions:
            assert text[mention.start : mention.end] == mention.matched
    # Equal scores (one explicit mention each, one of three instruments), then ordered by symbol:
    # 25 (explicit) + 15 * (1 - 1/2) + 20 * min(1, 3/3) = 52.5, the "high" band.
    assert [tag.symbol for tag in tags] == ["BTC-USD", "CXW", "GEO"]
    assert {tag.relevance for tag in tags} == {52.5}


# --------------------------------------------------------------------------- explicit forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shares of $TSLA rose.", ("TSLA", "cashtag", "$TSLA")),
        ("$BTC broke out.", ("BTC-USD", "cashtag", "$BTC")),
        ("Listed as NYSE:GEO since 1994.", ("GEO", "exchange_ticker", "NYSE:GEO")),
        ("Listed as NYSE: GEO since 1994.", ("GEO", "exchange_ticker", "NYSE: GEO")),
        ("The iPhone maker (NASDAQ: AAPL) fell.", ("AAPL", "exchange_ticker", "NASDAQ: AAPL")),
        ("The fund (NYSE Arca: SPY) and more.", None),  # SPY is not taggable
        ("Bitcoin (BTC) hit a record.", ("BTC-USD", "name_code", "Bitcoin (BTC)")),
        ("CoreCivic (CXW) won.", ("CXW", "name_code", "CoreCivic (CXW)")),
        ("CoreCivic (NYSE: CXW) won.", ("CXW", "name_code", "CoreCivic (NYSE: CXW)")),
        ("BTC-USD fell 3%.", ("BTC-USD", "pair", "BTC-USD")),
        ("BTC/USD fell 3%.", ("BTC-USD", "pair", "BTC/USD")),
        ("The BTCUSD pair fell.", ("BTC-USD", "pair", "BTCUSD")),
        ("XBT/EUR fell.", ("BTC-USD", "pair", "XBT/EUR")),
        ("Tesla $TSLA jumped.", ("TSLA", "name_ticker", "Tesla $TSLA")),
        ("Tesla, Inc. TSLA jumped.", ("TSLA", "name_ticker", "Tesla, Inc. TSLA")),
        ("Apple Inc. AAPL jumped.", ("AAPL", "name_ticker", "Apple Inc. AAPL")),
        ("Agilent Technologies (NYSE: A) beat.", ("A", "name_code", "Agilent Technologies (NYSE: A)")),
        ("Buy $ALL now.", ("ALL", "cashtag", "$ALL")),
        ("NYSE:IT fell.", ("IT", "exchange_ticker", "NYSE:IT")),
    ],
)
def test_explicit_forms(tagger: Tagger, text: str, expected: tuple[str, str, str] | None) -> None:
    assert found(tagger, text) == ([expected] if expected else [])


@pytest.mark.parametrize(
    "exchange", ["NYSE Arca", "NYSEArca", "NYSEARCA", "NYSE American", "AMEX", "CBOE", "OTC", "Nasdaq"]
)
def test_exchange_prefixes(exchange: str) -> None:
    spy = Instrument(symbol="SPY", name="SPDR S&P 500 ETF Trust", asset_class=AssetClass.ETF)
    text = f"the ETF ({exchange}:SPY) rose"
    assert found(Tagger([spy]), text) == [("SPY", "exchange_ticker", f"{exchange}:SPY")]


def test_untaggable_instruments_are_never_tagged() -> None:
    spy = Instrument(symbol="SPY", name="SPDR S&P 500 ETF Trust", asset_class=AssetClass.ETF, taggable=False)
    assert Tagger([spy]).mentions("SPDR S&P 500 ETF Trust (NYSEArca:SPY) and $SPY") == []


def test_a_code_alone_is_not_a_mention(tagger: Tagger) -> None:
    assert found(tagger, "BTC and XBT are codes.") == []


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CoreCivic said so.", [("CXW", "name", "CoreCivic")]),
        ("CoreCivic's shares.", [("CXW", "name", "CoreCivic")]),
        ("Contracts with the GEO Group, Inc. ended.", [("GEO", "alias", "GEO Group, Inc.")]),
        ("The GEO Group said so.", [("GEO", "name", "GEO Group")]),
        ("Formerly Corrections Corporation of America.", [("CXW", "alias", "Corrections Corporation of America")]),
        ("Bitcoin and Tesla.", [("BTC-USD", "name", "Bitcoin"), ("TSLA", "name", "Tesla")]),
        ("MegaCoreCivicX and Teslas and corecivic.", []),
        ("Buying bitcoin again.", [("BTC-USD", "name", "bitcoin")]),  # crypto names also in lower case
        ("Teslamania.", []),
    ],
)
def test_names_and_aliases(tagger: Tagger, text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(tagger, text) == expected


def test_name_with_ticker_is_one_mention(tagger: Tagger) -> None:
    assert found(tagger, "CoreCivic, Inc. CXW and the GEO Group, Inc. GEO") == [
        ("CXW", "name_ticker", "CoreCivic, Inc. CXW"),
        ("GEO", "name_ticker", "GEO Group, Inc. GEO"),
    ]


# --------------------------------------------------------------------------- bare tickers


def test_unambiguous_bare_ticker_counts_alone(tagger: Tagger) -> None:
    assert found(tagger, "CXW shares fell 5%.") == [("CXW", "ticker", "CXW")]


def test_word_ticker_counts_only_near_its_name(tagger: Tagger) -> None:
    assert found(tagger, "GEO shares fell 5%.") == []
    assert found(tagger, "GEO Group reported. Later GEO shares fell.") == [
        ("GEO", "name", "GEO Group"),
        ("GEO", "ticker", "GEO"),
    ]
    far = "GEO Group reported." + " filler" * 40 + " GEO shares fell."
    assert found(tagger, far) == [("GEO", "name", "GEO Group")]


@pytest.mark.parametrize(
    "text",
    [
        "geothermal energy",
        "The Geo Metro was a small car, and geo-politics matters.",
        "A dog bit a man. A second dog followed.",
        "We sold all of it. ALL CAPS HEADLINE: MARKETS ALL DOWN",
        "IT spending rose and it rained.",
        "ON SALE NOW: CAT FOOD",
        "Prices rose $5 and then $5.50.",
        "See https://example.com/quote/CXW/news or www.example.com/CXW for more.",
        "Write to CXW@example.com or ir@CXW.com.",
        "See example.com/quote/CXW.",
        "Search https://example.com/search?q=CXW&page=2 again.",
        "Mail CXW-ir@example.com today.",
        "Visit CXW.com or open the file notes.CXW today.",
        "Open https://example.com/t/$CXW or https://example.com/p/Bitcoin-BTC/USD now.",
        "coins such as ETH/BTC",
    ],
)
def test_no_false_mentions(tagger: Tagger, text: str) -> None:
    assert found(tagger, text) == []


def test_ticker_outside_the_url_still_counts(tagger: Tagger) -> None:
    text = "CXW rose (https://example.com/quote/CXW)."
    assert found(tagger, text) == [("CXW", "ticker", "CXW")]
    assert tagger.mentions(text)[0].start == 0


def test_single_letter_ticker_never_counts_bare_even_near_its_name(tagger: Tagger) -> None:
    assert found(tagger, "Agilent Technologies beat. A spokesperson said A was fine.") == [
        ("A", "name", "Agilent Technologies")
    ]


# --------------------------------------------------------------------------- terms


def test_terms_strip_the_leading_article_and_build_pairs() -> None:
    surfaces = {term.surface: term.kind.value for term in instrument_terms(GEO)}
    assert surfaces == {"GEO Group": "name", "GEO Group, Inc.": "alias", "GEO": "ticker"}
    pairs = {term.surface for term in instrument_terms(BITCOIN) if term.kind.value == "pair"}
    assert {"BTC-USD", "BTC/USD", "BTCUSD", "XBT/USD", "BTCUSDT"} <= pairs
    geo_ticker = next(t for t in instrument_terms(GEO) if t.kind.value == "ticker")
    cxw_ticker = next(t for t in instrument_terms(CORECIVIC) if t.kind.value == "ticker")
    assert (geo_ticker.bare_ok, cxw_ticker.bare_ok) == (False, True)


def test_class_share_ticker_is_found_with_a_dot() -> None:
    berkshire = equity("BRK-B", "Berkshire Hathaway")
    assert found(Tagger([berkshire]), "BRK.B and BRK-B rose") == [
        ("BRK-B", "ticker", "BRK.B"),
        ("BRK-B", "ticker", "BRK-B"),
    ]


# --------------------------------------------------------------------------- relevance


OTHERS = tuple(equity(f"QX{letter}", f"Firm{letter}") for letter in "ABCDEFGHIJKLMNOPQRS")


def test_article_about_the_ticker_outscores_a_passing_mention() -> None:
    tagger = Tagger((CORECIVIC, *OTHERS))
    about = tagger.tag(
        "CoreCivic wins new ICE contract",
        "CoreCivic (NYSE: CXW) said on Monday it won a contract.\n\n"
        "CoreCivic expects revenue to rise. CXW shares rose 4%.",
    )
    listing = ", ".join(instrument.symbol for instrument in OTHERS)
    passing = tagger.tag(
        "Private companies report earnings",
        f"Several companies reported.\n\nAmong them {listing} and CXW.",
    )
    about_cxw = next(tag for tag in about if tag.symbol == "CXW")
    passing_cxw = next(tag for tag in passing if tag.symbol == "CXW")
    assert len(passing) == 20
    assert about_cxw.relevance >= 80
    assert passing_cxw.relevance <= 25
    assert about_cxw.relevance > passing_cxw.relevance


def test_title_mention_raises_relevance() -> None:
    tagger = Tagger([CORECIVIC, GEO])
    body = "Shares moved.\n\nCoreCivic and GEO Group were both mentioned."
    with_title = tagger.tag("CoreCivic shares jump", body)
    without_title = tagger.tag("Prison stocks move", body)
    score = {tag.symbol: tag.relevance for tag in with_title}
    assert score["CXW"] > {tag.symbol: tag.relevance for tag in without_title}["CXW"]
    assert [tag.symbol for tag in with_title] == ["CXW", "GEO"]
    assert score["CXW"] > score["GEO"]


def test_relevance_by_hand() -> None:
    # Title: "CXW shares"; body: "$CXW and CXW shares" (first paragraph). n = 3, k = 1 instrument.
    # 30 (title) + 10 (lead) + 25 (explicit) + 15 * (1 - 1/8) + 20 * min(1, 3/1) = 98.125 -> 98.1
    tags = Tagger([CORECIVIC]).tag("CXW shares", "$CXW and CXW shares")
    assert [(tag.symbol, tag.relevance, len(tag.mentions)) for tag in tags] == [("CXW", 98.1, 3)]
    # One bare mention in the second paragraph of an article tagging 12 instruments:
    # 15 * (1 - 1/2) + 20 * 3/12 = 12.5
    layout = ArticleLayout.of("Title", "Lead.\n\nCXW")
    mention = Mention("CXW", 14, 17, "CXW", "ticker")
    assert relevance([mention], 12, layout) == 12.5
    # The same mention in an article that tags two instruments: focus 1.
    assert relevance([mention], 2, layout) == 27.5
    assert relevance([], 12, layout) == 0.0


@given(
    mentions=st.lists(
        st.builds(
            Mention,
            symbol=st.just("CXW"),
            start=st.integers(0, 2_000),
            end=st.just(0),
            matched=st.just(""),
            method=st.sampled_from(["name", "alias", "ticker", "cashtag", "pair", "name_ticker"]),
        ),
        max_size=50,
    ),
    others=st.integers(0, 100),
    title_length=st.integers(0, 300),
    body=st.text(alphabet="ab \n", max_size=800),
)
def test_relevance_is_bounded_and_rounded(mentions: list[Mention], others: int, title_length: int, body: str) -> None:
    score = relevance(mentions, len(mentions) + others, ArticleLayout.of("t" * title_length, body))
    assert 0.0 <= score <= 100.0
    assert score == round(score, 1)


# --------------------------------------------------------------------------- invariants

FRAGMENTS = [
    "CoreCivic", "CoreCivic, Inc.", "CXW", "GEO", "GEO Group", "the ", "Bitcoin", "BTC", "XBT", "/USD",
    "-USD", "USD", "Tesla", "TSLA", "A", "ALL", "IT", "ON", "$", "NYSE", ":", ": ", "NASDAQ", "(", ")",
    " ", " ", " ", ". ", ", ", "Inc.", "https://", "www.", ".com/", "@", "\n", "Agilent Technologies", "Gartner",
]
# Mostly watchlist fragments, glued with some random characters.
RANDOM_TEXT = st.lists(
    st.sampled_from(FRAGMENTS)
    | st.sampled_from(FRAGMENTS)
    | st.text(string.ascii_letters + " $:/()-.,@\n_", max_size=4),
    max_size=40,
).map("".join)


@settings(max_examples=300)
@given(text=RANDOM_TEXT)
def test_mentions_slice_to_their_text_and_never_overlap(text: str) -> None:
    mentions = UNIVERSE_TAGGER.mentions(text)
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.matched
        assert mention.matched
    for before, after in zip(mentions, mentions[1:]):
        assert before.end <= after.start


#: Words that make a name the source of a view ("CoreCivic economists", "according to CoreCivic"):
#: kept out of the filler so that the name stays a plain mention.
SOURCE_WORDS = frozenset(
    """analyst analysts strategist strategists economist economists researcher researchers advisor advisors
    adviser advisers manager managers upgraded downgraded reiterated reaffirmed initiated maintained rates rated
    sees viewed views wrote writes noted notes says said saying estimates expects forecasts predicts slashed
    lifted kept which also according reflect represent""".split()
)
LOWER_WORDS = st.lists(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10).filter(lambda w: w not in SOURCE_WORDS),
    max_size=30,
)


@given(
    words=LOWER_WORDS,
    where=st.integers(0, 30),
    instrument=st.sampled_from([CORECIVIC, GEO, TESLA, BITCOIN, AGILENT]),
)
def test_a_name_inserted_between_lowercase_words_is_found(
    words: list[str], where: int, instrument: Instrument
) -> None:
    where = min(where, len(words))
    prefix = " ".join(words[:where]) + (" " if where else "")
    text = prefix + instrument.name + (" " if words[where:] else "") + " ".join(words[where:])
    mentions = UNIVERSE_TAGGER.mentions(text)
    end = len(prefix) + len(instrument.name)
    assert Mention(instrument.symbol, len(prefix), end, instrument.name, "name") in mentions


@given(text=st.text(alphabet=string.ascii_lowercase + " ", max_size=300))
def test_lowercase_text_names_no_uppercase_ticker(text: str) -> None:
    assert UNIVERSE_TAGGER.mentions(text) == []


# --------------------------------------------------------------------------- load_watchlist


def test_seed_watchlist_loads() -> None:
    instruments = {instrument.symbol: instrument for instrument in load_watchlist(SEED_WATCHLIST)}
    assert list(instruments) == ["CXW", "GEO", "BTC-USD", "SPY", "IWM"]
    btc = instruments["BTC-USD"]
    assert (btc.asset_class, btc.calendar, btc.benchmark, btc.codes) == (
        AssetClass.CRYPTO, CALENDAR_24_7, None, ("BTC", "XBT"),
    )
    cxw = instruments["CXW"]
    assert (cxw.asset_class, cxw.calendar, cxw.benchmark, cxw.exchange, cxw.taggable) == (
        AssetClass.EQUITY, "XNYS", "SPY", "NYSE", True,
    )
    assert "CoreCivic, Inc." in cxw.aliases
    assert (instruments["SPY"].taggable, instruments["SPY"].benchmark) == (True, None)
    assert instruments["IWM"].benchmark is None


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_text(content, encoding="utf-8")
    return path


def test_defaults_and_normalisation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [defaults]
        benchmark = "iwm"

        [[instrument]]
        symbol = " cxw "
        name = "CoreCivic"

        [[instrument]]
        symbol = "eth-usd"
        name = "Ether"
        asset_class = "crypto"
        codes = ["eth"]

        [[instrument]]
        symbol = "SOL-USD"
        name = "Solana"
        asset_class = "crypto"
        benchmark = "BTC-USD"

        [[instrument]]
        symbol = "EWJ"
        name = "iShares MSCI Japan ETF"
        asset_class = "etf"
        calendar = "XTKS"
        benchmark = ""
        """,
    )
    cxw, eth, sol, ewj = load_watchlist(path)
    assert (cxw.symbol, cxw.benchmark, cxw.calendar, cxw.asset_class, cxw.taggable) == (
        "CXW", "IWM", "XNYS", AssetClass.EQUITY, True,
    )
    assert (eth.symbol, eth.codes, eth.calendar, eth.benchmark) == ("ETH-USD", ("ETH",), CALENDAR_24_7, None)
    assert sol.benchmark == "BTC-USD"
    assert (ewj.calendar, ewj.benchmark) == ("XTKS", None)


def test_without_defaults_there_is_no_benchmark(tmp_path: Path) -> None:
    (only,) = load_watchlist(write(tmp_path, '[[instrument]]\nsymbol = "CXW"\nname = "CoreCivic"\n'))
    assert only.benchmark is None


def test_missing_watchlist(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_watchlist(path)
    assert str(caught.value) == f"watchlist not found: {path}; set MONITOR_WATCHLIST or create it"


GOOD = '[[instrument]]\nsymbol = "CXW"\nname = "CoreCivic"\n'


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('[[instrument]]\nsymbol = "CXW\nname = "CoreCivic"\n', ["not valid TOML", "line 2"]),
        ('[[instrument]]\nname = "CoreCivic"\n', ["has no symbol"]),
        ('[[instrument]]\nsymbol = "CXW"\n', ["(CXW) has no name"]),
        ('[[instrument]]\nsymbol = "CXW"\nname = "  "\n', ["(CXW) has no name"]),
        (GOOD + 'asset_class = "bond"\n', ["unknown asset_class 'bond'", "equity | etf | crypto | index"]),
        (GOOD + GOOD.replace('"CXW"', '"cxw"'), ["lists symbol CXW twice"]),
        (GOOD + 'ticker = "CXW"\nsector = "prisons"\n', ["unknown key(s) sector, ticker"]),
        ('[defaults]\nbenchmark = "SPY"\ncalendar = "XNYS"\n' + GOOD, ["unknown key(s) calendar in [defaults]"]),
        ('[general]\nx = 1\n' + GOOD, ["unknown key(s) general at the top level"]),
        (GOOD + 'taggable = "yes"\n', ["taggable must be true or false"]),
        (GOOD + 'aliases = "CoreCivic Inc"\n', ["aliases must be a list of strings"]),
        (GOOD.replace('"CXW"', "42"), ["symbol must be a string"]),
        ('[defaults]\nbenchmark = "SPY"\n', ["defines no [[instrument]] tables"]),
    ],
)
def test_invalid_watchlists(tmp_path: Path, content: str, fragments: list[str]) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_watchlist(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
