"""Tests of tagging against the whole bundled universe: names, the universe files, every precision rule.

The tagger here is the pipeline's: every US listing of the SEC list, the
curated names, ETFs and foreign shares, the major crypto and the seed
watchlist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.models import TEXT_SEPARATOR, AssetClass
from monitor.tagging import Tagger, TermKind, Universe, load_universe
from monitor.tagging.names import news_names, spelling_variants
from monitor.tagging.relevance import HIGH_RELEVANCE, LOW_RELEVANCE
from monitor.tagging.universe import describe

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
UNIVERSE_DIR = SEEDS / "universe"
WATCHLIST = SEEDS / "watchlist.toml"
SEED_ARTICLE = SEEDS / "news" / "2025-02-04-el-salvador-prison-offer.txt"
REFERENCE = os.environ.get("MONITOR_REFERENCE_DATA")


@pytest.fixture(scope="module")
def universe() -> Universe:
    return load_universe(UNIVERSE_DIR, WATCHLIST)


@pytest.fixture(scope="module")
def tagger(universe: Universe) -> Tagger:
    return Tagger(universe)


def symbols(tagger: Tagger, text: str) -> set[str]:
    return {m.symbol for m in tagger.mentions(text) if m.method != "source"}


def found(tagger: Tagger, text: str) -> list[tuple[str, str, str]]:
    mentions = tagger.mentions(text)
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.matched
    return [(m.symbol, m.method, m.matched) for m in mentions]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("title", "ticker", "name", "aliases"),
    [
        ("GEO GROUP INC", "GEO", "GEO Group", ()),
        ("AMAZON COM INC", "AMZN", "Amazon.com", ("Amazon",)),
        ("BANK OF AMERICA CORP /DE/", "BAC", "Bank of America", ()),
        ("ELI LILLY & Co", "LLY", "Eli Lilly", ()),
        ("NOVO NORDISK A S", "NVO", "Novo Nordisk", ()),
        ("AIR FRANCE-KLM /FI", "AFLYY", "Air France-KLM", ()),
        ("US BANCORP \\DE\\", "USB", "US Bancorp", ()),
        ("CVS HEALTH Corp", "CVS", "CVS Health", ()),
        ("AES CORP", "AES", "AES", ()),
        ("THE COCA-COLA CO", "KO", "Coca-Cola", ()),
        ("Palantir Technologies Inc.", "PLTR", "Palantir Technologies", ("Palantir",)),
        ("Alibaba Group Holding Ltd", "BABA", "Alibaba Group Holding", ("Alibaba Group", "Alibaba")),
        ("Meta Platforms, Inc.", "META", "Meta Platforms", ("Meta",)),
        ("ASML HOLDING NV", "ASML", "ASML Holding", ()),  # the short form would be the ticker itself
        ("SPDR S&P 500 ETF TRUST", "SPY", "SPDR S&P 500 ETF Trust", ("SPDR S&P 500 ETF",)),
    ],
)
def test_registry_titles_become_the_names_news_uses(title: str, ticker: str, name: str, aliases: tuple) -> None:
    names = news_names(title, ticker)
    assert (names.name, names.aliases) == (name, aliases)


def test_spelling_variants() -> None:
    assert {"Coca-Cola", "Coca Cola", "COCA-COLA"} <= spelling_variants("Coca-Cola")
    assert {"Coca Cola", "Coca-Cola"} <= spelling_variants("Coca Cola")
    assert {"McDonald's", "McDonald\u2019s", "McDonalds", "MCDONALD'S"} <= spelling_variants("McDonald's")
    assert "Johnson and Johnson" in spelling_variants("Johnson & Johnson")
    assert "On Semiconductor" in spelling_variants("ON Semiconductor")
    assert "Applovin" in spelling_variants("AppLovin")


# --------------------------------------------------------------------------- the universe files


def test_the_bundled_universe_covers_the_market_and_major_crypto(universe: Universe) -> None:
    assert len(universe) >= 10_000
    crypto = [i for i in universe.instruments.values() if i.asset_class is AssetClass.CRYPTO]
    assert len(crypto) >= 30
    for symbol in ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "AAPL", "CXW", "GEO", "SPY", "QQQ",
                   "VOO", "NSRGY", "BRK-B"):
        assert symbol in universe, symbol
    assert universe.get("btc-usd").calendar == "24/7"
    assert universe.get("ETH-USD").benchmark is None
    assert universe.get("AAPL").calendar == "XNAS" and universe.get("CXW").calendar == "XNYS"
    assert universe.get("CXW").benchmark == "SPY"


def test_names_are_normalised_and_curated(universe: Universe) -> None:
    assert universe.get("GEO").name == "GEO Group"
    amazon = universe.get("AMZN")
    assert "Amazon" in (amazon.name, *amazon.aliases)
    assert universe.get("PEP").name == "PepsiCo"  # curated: the registry writes PEPSICO INC
    assert "Facebook" in (*universe.get("META").aliases, *universe.get("META").brands)  # a former name
    assert "Apple" in universe.get("AAPL").context  # a word: needs context


def test_watchlist_entries_override_and_add(tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(
        '[defaults]\nbenchmark = "IWM"\n\n'
        '[[instrument]]\nsymbol = "CXW"\nname = "CoreCivic Prisons"\naliases = ["CCA"]\nbenchmark = "SPY"\n\n'
        '[[instrument]]\nsymbol = "ZZZQ"\nname = "Zedquo Widgets"\nexchange = "NYSE"\n',
        encoding="utf-8",
    )
    universe = load_universe(UNIVERSE_DIR, watchlist)
    cxw = universe.get("CXW")
    assert cxw.name == "CoreCivic Prisons"
    assert {"CCA", "CoreCivic"} <= set(cxw.aliases)  # the listed name stays findable
    assert cxw.benchmark == "SPY"
    assert universe.origins["CXW"] == ("listed", "watchlist")
    assert list(universe.instruments)[:2] == ["CXW", "ZZZQ"]  # the watchlist ranks first
    assert universe.get("GEO").benchmark == "IWM"  # the watchlist's default benchmark
    tagger = Tagger(universe)
    assert symbols(tagger, "Zedquo Widgets and CoreCivic Prisons rose.") == {"ZZZQ", "CXW"}


def test_a_new_symbol_without_a_name_is_refused(tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text('[[instrument]]\nsymbol = "ZZZQ"\nexchange = "NYSE"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ZZZQ.*no name"):
        load_universe(UNIVERSE_DIR, watchlist)


def test_context_may_only_mark_names_of_the_entry(tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text('[[instrument]]\nsymbol = "AAPL"\ncontext = ["Pear"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="context lists Pear"):
        load_universe(UNIVERSE_DIR, watchlist)


def test_a_damaged_listing_file_names_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "universe"
    folder.mkdir()
    for name in ("curated.toml", "crypto.toml"):
        (folder / name).write_text((UNIVERSE_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    lines = (UNIVERSE_DIR / "listed.csv").read_text(encoding="utf-8").splitlines()[:40]
    lines[-1] = "BROKEN,row"
    (folder / "listed.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"listed.csv line 40: expected 8 fields"):
        load_universe(folder, WATCHLIST)
    (folder / "listed.csv").unlink()
    with pytest.raises(ConfigError, match="universe file not found"):
        load_universe(folder, WATCHLIST)


def test_a_name_belongs_to_the_first_instrument_that_has_it(universe: Universe) -> None:
    owners: dict[str, str] = {}
    for term in universe.terms():
        if term.kind in (TermKind.NAME, TermKind.ALIAS, TermKind.BRAND):
            assert owners.setdefault(term.surface.casefold(), term.symbol) == term.symbol, term.surface
    # Share classes and preferreds have no names of their own.
    assert "BRK-A" in universe.secondary and "BRK-B" not in universe.secondary
    assert not [t for t in universe.terms() if t.symbol == "BRK-A" and t.kind is TermKind.NAME]
    assert set(universe.issuer_symbols("BRK-B")) >= {"BRK-B", "BRK-A"}


def test_describe_says_how_a_symbol_is_tagged(universe: Universe) -> None:
    geo = describe(universe, "GEO")
    assert geo["name"] == "GEO Group" and "bare only near its name" in geo["ticker"]
    assert geo["origin"] == ["listed", "watchlist"]
    btc = describe(universe, "BTC-USD")
    assert btc["codes"] == ["BTC", "XBT"] and "BTC/USD" in btc["pairs"]
    assert "explicit forms" in describe(universe, "A")["ticker"]
    assert universe.search("corecivic")[0].symbol == "CXW"


@pytest.mark.reference
@pytest.mark.skipif(not REFERENCE, reason="MONITOR_REFERENCE_DATA is not set: the SEC ticker list is not at hand")
def test_listed_csv_is_what_the_builder_makes(tmp_path: Path) -> None:
    if not Path("/usr/share/dict/words").is_file():
        pytest.skip("the English word list (Debian's wamerican) is not installed")
    script = ROOT / "scripts" / "build_universe.py"
    env = {**os.environ, "MONITOR_REFERENCE_DATA": REFERENCE, "MONITOR_UNIVERSE_OUT": str(tmp_path / "listed.csv")}
    subprocess.run([sys.executable, str(script)], check=True, env=env, capture_output=True)
    assert (tmp_path / "listed.csv").read_text(encoding="utf-8") == (UNIVERSE_DIR / "listed.csv").read_text(
        encoding="utf-8"
    )


# --------------------------------------------------------------------------- the example article


def test_the_example_article_gives_exactly_its_three_tickers_with_high_relevance(tagger: Tagger) -> None:
    keyword, _day, text = SEED_ARTICLE.read_text(encoding="utf-8").split(maxsplit=2)
    title, _, body = text.partition("\n")
    tags = tagger.tag(title.strip(), body.strip())
    assert {tag.symbol for tag in tags} == {"CXW", "GEO", "BTC-USD"}
    assert all(tag.relevance >= HIGH_RELEVANCE for tag in tags)
    spans = {tag.symbol: [(m.matched, m.method) for m in tag.mentions] for tag in tags}
    assert spans["CXW"] == [("CoreCivic, Inc. CXW", "name_ticker")]
    assert spans["GEO"] == [("GEO Group, Inc. GEO", "name_ticker")]
    assert spans["BTC-USD"] == [("Bitcoin BTC/USD", "name_ticker")]


# --------------------------------------------------------------------------- explicit forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shares of $CXW fell.", ("CXW", "cashtag", "$CXW")),
        ("$aapl is up", ("AAPL", "cashtag", "$aapl")),
        ("Buy $A today", ("A", "cashtag", "$A")),  # one letter: only explicit
        ("$ETH broke out", ("ETH-USD", "cashtag", "$ETH")),  # the crypto code beats the ETF ticker ETH
        ("Listed as NYSE:GEO.", ("GEO", "exchange_ticker", "NYSE:GEO")),
        ("the iPhone maker (NASDAQ: AAPL) fell", ("AAPL", "exchange_ticker", "NASDAQ: AAPL")),
        ("Nestle (OTCPK:NSRGY) rose", ("NSRGY", "name_code", "Nestle (OTCPK:NSRGY)")),
        ("the fund (NYSEARCA:XLC) rose", ("XLC", "exchange_ticker", "NYSEARCA:XLC")),
        ("Agilent Technologies (NYSE: A) beat.", ("A", "name_code", "Agilent Technologies (NYSE: A)")),
        ("Alcoa Corporation (Symbol: AA) rose", ("AA", "name_code", "Alcoa Corporation (Symbol: AA)")),
        ("CoreCivic, Inc. CXW won.", ("CXW", "name_ticker", "CoreCivic, Inc. CXW")),
        ("Bitcoin (BTC) hit a record.", ("BTC-USD", "name_code", "Bitcoin (BTC)")),
        ("BTC/USD fell.", ("BTC-USD", "pair", "BTC/USD")),
        ("BTC-USD fell.", ("BTC-USD", "pair", "BTC-USD")),
        ("Ether ETH-USD fell.", ("ETH-USD", "name_ticker", "Ether ETH-USD")),
        ("Its chips sell well (NVDA).", ("NVDA", "paren_ticker", "(NVDA)")),
        ("Block (XYZ) rose", ("XYZ", "name_code", "Block (XYZ)")),
    ],
)
def test_explicit_forms(tagger: Tagger, text: str, expected: tuple[str, str, str]) -> None:
    assert expected in found(tagger, text)


def test_a_listing_the_universe_lacks_is_still_tagged_from_its_exchange_prefix(tagger: Tagger) -> None:
    assert found(tagger, "Canopy peer (OTCPK:ZZQXF) jumped") == [("ZZQXF", "exchange_ticker", "OTCPK:ZZQXF")]
    assert found(tagger, "Class shares (NYSE:ZZQ.B) rose") == [("ZZQ-B", "exchange_ticker", "NYSE:ZZQ.B")]
    # An exchange's name or an abbreviation after the colon is no ticker.
    assert found(tagger, "It trades on the NYSE: NYSE rules apply.") == []
    assert found(tagger, "Listed OTC: ADR holders") == []


def test_short_tickers_count_in_a_list_of_tickers_in_parentheses(tagger: Tagger) -> None:
    text = "Funds that track it: (SPY), (VOO), (SH), (SDS) and (SPXU)."
    assert {"SPY", "VOO", "SH", "SDS", "SPXU"} <= symbols(tagger, text)
    assert "SH" not in symbols(tagger, "The fee (SH) applies.")


# --------------------------------------------------------------------------- traps


@pytest.mark.parametrize(
    "text",
    [
        "The geothermal plant is near a geo-fenced zone.",
        "Several GEOs were launched by the agency.",
        "A man said a thing. A dog barked at A.",
        "An Indian prince named BABA arrived.",
        "Apple pie recipes for autumn.",
        "Harrison Ford starred in the film.",
        "Target practice starts at noon.",
        "Gap widens between rich and poor.",
        "Shell game at the fair.",
        "Block party on Main Street was loud.",
        "Visa applications rose at the embassy.",
        "artificial intelligence (AI) and electric vehicles (EV) and information technology (IT)",
        "Share to Facebook\nShare on X",
        "Now Read:\nMeta Platforms rises\nNvidia falls\nApple slips\n\n",
        "Photo: Shutterstock",
        "4kodiak/iStock via Getty Images",
        "Listen on Apple Podcasts, iTunes and Spotify.",
        "The Nasdaq Composite and the Dow rose.",
        "Net interest margin (NIM) and GLP-1 drugs",
        "Based in Palo Alto, Calif., the startup grew.",
    ],
)
def test_traps_give_no_ticker(tagger: Tagger, text: str) -> None:
    assert symbols(tagger, text) == set(), found(tagger, text)


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("Shares of Apple rose 3% after the earnings report.", "AAPL"),
        ("The iPhone maker said Apple Inc. would pay more.", "AAPL"),
        ("Ford Motor said sales rose.", "F"),
        ("Analysts cut their price target on Target Corp.", "TGT"),
        ("Shares of Visa fell after the ruling.", "V"),
        ("Meta Platforms said it would spend more.", "META"),
        ("Investors sold Shell shares on Tuesday.", "SHEL"),
        ("CXW shares fell 5% on Tuesday.", "CXW"),
        ("Buying bitcoin and ethereum again.", "BTC-USD"),
        ("Nasdaq, Inc. reported results.", "NDAQ"),
    ],
)
def test_word_names_count_with_context(tagger: Tagger, text: str, symbol: str) -> None:
    assert symbol in symbols(tagger, text), found(tagger, text)


def test_a_surname_used_for_a_person_is_never_the_company(tagger: Tagger) -> None:
    text = "CFO Glenn Cohen reported results. Cohen said revenue and earnings rose."
    assert "COHN" not in symbols(tagger, text)


def test_a_first_word_of_another_name_belongs_to_that_company(tagger: Tagger) -> None:
    text = "Asked about Constellation Brands' beer sales. Constellation's shares rose."
    assert symbols(tagger, text) == {"STZ"}


@pytest.mark.parametrize(
    "text",
    [
        "Goldman Sachs analysts expect a rally in Palantir (PLTR).",
        "Morgan Stanley upgraded Palantir (PLTR) to Equal-weight.",
        "Palantir (PLTR) was downgraded to Neutral by Bank of America.",
        "Palantir (PLTR) rose, according to Barclays.",
        "### Q&A\nMichael Goldsmith, UBS: Asked about Palantir (PLTR) demand.",
        "Palantir (PLTR) beats estimates: BofA\n\nThe shares rose.",
    ],
)
def test_a_bank_quoted_as_a_source_is_not_tagged(tagger: Tagger, text: str) -> None:
    title, _, body = text.partition("\n\n")
    tags = {tag.symbol for tag in tagger.tag(title, body)} if body else {t.symbol for t in tagger.tag("", text)}
    assert tags == {"PLTR"}


def test_a_bank_in_the_title_is_the_subject(tagger: Tagger) -> None:
    tags = tagger.tag("Goldman Sachs profit jumps", "Goldman Sachs said on Tuesday that trading revenue rose.")
    assert [tag.symbol for tag in tags] == ["GS"]


def test_a_passing_mention_ranks_low_and_a_story_about_the_ticker_high(tagger: Tagger) -> None:
    listing = ", ".join(f"{name} ({ticker})" for name, ticker in [
        ("Apple", "AAPL"), ("Microsoft", "MSFT"), ("Nvidia", "NVDA"), ("Tesla", "TSLA"), ("Oracle", "ORCL"),
        ("Intel", "INTC"), ("Netflix", "NFLX"), ("Boeing", "BA"), ("Pfizer", "PFE"), ("Chevron", "CVX"),
        ("Walmart", "WMT"), ("Costco", "COST"), ("Nike", "NKE"), ("Starbucks", "SBUX"), ("Disney", "DIS"),
        ("Visa", "V"), ("Mastercard", "MA"), ("Adobe", "ADBE"), ("Cisco", "CSCO"),
    ])
    passing = tagger.tag("Earnings roundup", f"Companies reporting this week include {listing} and CoreCivic (CXW).")
    about = tagger.tag(
        "CoreCivic wins new ICE contract",
        "CoreCivic (NYSE: CXW) said on Monday it won a contract.\n\nCoreCivic expects revenue to rise.",
    )
    passing_cxw = next(tag for tag in passing if tag.symbol == "CXW")
    about_cxw = next(tag for tag in about if tag.symbol == "CXW")
    assert len(passing) == 20
    assert passing_cxw.relevance < HIGH_RELEVANCE and about_cxw.relevance >= 90
    bare = tagger.tag("Roundup", f"Companies reporting include {listing}. CXW shares also moved.")
    assert next(tag for tag in bare if tag.symbol == "CXW").relevance < LOW_RELEVANCE


# --------------------------------------------------------------------------- properties

NAMED = None


def _plain_names(universe: Universe) -> list[tuple[str, str]]:
    """(symbol, name) of listed companies whose name needs no context, for the insertion property."""
    global NAMED
    if NAMED is None:
        owners: dict[str, str] = {}
        for term in universe.terms():
            if term.kind is TermKind.NAME and not term.context and " " in term.surface:
                owners.setdefault(term.surface, term.symbol)
        NAMED = sorted((symbol, surface) for surface, symbol in owners.items())[::37]
    return NAMED


FILLER = st.lists(st.sampled_from(
    "the a of in on at for and to with from as by is was were has had this that it its said new year week "
    "market prices demand growth quarter results plans deal talks report data sales costs rose fell".split()
), max_size=25)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=FILLER, where=st.integers(0, 25), pick=st.integers(0, 10_000))
def test_a_known_name_inserted_into_text_is_found_at_its_span(
    tagger: Tagger, universe: Universe, words: list[str], where: int, pick: int
) -> None:
    names = _plain_names(universe)
    symbol, name = names[pick % len(names)]
    where = min(where, len(words))
    prefix = " ".join(words[:where]) + (" " if where else "")
    text = prefix + name + (" " if words[where:] else "") + " ".join(words[where:]) + "."
    start = len(prefix)
    hits = [m for m in tagger.mentions(text) if m.start <= start < m.end or start <= m.start < start + len(name)]
    assert hits, (text, symbol)
    assert hits[0].symbol == symbol and hits[0].start == start, (text, hits)
    assert hits[0].end >= start + len(name)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_text_gives_well_formed_mentions(tagger: Tagger, text: str) -> None:
    mentions = tagger.mentions(text)
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.matched
    for before, after in zip(mentions, mentions[1:]):
        assert before.end <= after.start


# --------------------------------------------------------------------------- bad input


def test_empty_text_and_junk(tagger: Tagger) -> None:
    assert tagger.tag("", "") == []
    junk = bytes(range(256)).decode("latin-1") * 50
    text = junk + TEXT_SEPARATOR + junk
    for tag in tagger.tag(junk, junk):
        assert 0 <= tag.relevance <= 100
        for mention in tag.mentions:
            assert text[mention.start : mention.end] == mention.matched
    assert tagger.mentions("\x00\x01\ufffd\U0001F600" * 100) == []
    random_bytes = bytes((i * 7919 + 13) % 256 for i in range(20_000)).decode("utf-8", errors="replace")
    assert {m.symbol for m in tagger.mentions(random_bytes)} <= set(tagger.universe.instruments) | {""}


def test_other_scripts(tagger: Tagger) -> None:
    text = "阿里巴巴集团 Alibaba 的股价上涨。 Компания Tesla и $TSLA. شركة Apple Inc. AAPL"
    assert {"BABA", "TSLA", "AAPL"} <= symbols(tagger, text)
    assert symbols(tagger, "這是一段沒有公司名稱的中文文字。Это просто текст.") == set()


def test_five_megabytes_in_one_article(tagger: Tagger) -> None:
    filler = "The committee met again and discussed the weather, the harvest and the roads. "
    body = filler * (5_000_000 // len(filler)) + "Later, CoreCivic (NYSE: CXW) said it won a contract."
    tags = tagger.tag("A long report", body)
    assert [tag.symbol for tag in tags] == ["CXW"]
    mention = tags[0].mentions[0]
    text = "A long report" + TEXT_SEPARATOR + body
    assert text[mention.start : mention.end] == "CoreCivic (NYSE: CXW)"


# --------------------------------------------------------------------------- evaluation on labelled news


@pytest.mark.reference
@pytest.mark.skipif(not REFERENCE, reason="MONITOR_REFERENCE_DATA is not set: the labelled news is not at hand")
def test_labelled_evaluation_meets_its_targets() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "eval_tagging.py"), "--json", "--show", "5"],
        check=True, capture_output=True, text=True, env={**os.environ, "MONITOR_REFERENCE_DATA": REFERENCE},
    )
    figures = json.loads(result.stdout)
    sa = figures["seeking_alpha"]
    assert sa["a"]["target_met"], sa["a"]
    assert sa["b"]["target_met"], sa["b"]
    assert sa["a"]["judged_precision"] >= 0.98 and sa["a"]["recall"] >= 0.98
    assert sa["b"]["precision"] >= 0.90 and sa["b"]["recall"] >= 0.90
    assert figures["alcoa"]["aa_recall"] >= 0.98
    assert figures["alcoa"]["tagged_a_without_agilent"] == 0
    assert figures["stocknet"]["recall"] >= 0.95


def test_the_tagging_benchmark_runs_on_generated_text() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_REFERENCE_DATA"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_tagging.py"), "--mb", "0.3", "--repeat", "1", "--json"],
        check=True, capture_output=True, text=True, env=env, cwd=ROOT,
    )
    figures = json.loads(result.stdout)
    assert figures["text"] == "generated wire stories"
    assert figures["megabytes"] >= 0.3 and figures["tags"] > 0
    assert figures["bare_scan_mb_per_s"] > 0 and figures["tagger_mb_per_s"] > 0
