"""Company names the way news writes them.

Registry titles are written for filing, not reading: "GEO GROUP INC",
"AMAZON COM INC", "BANK OF AMERICA CORP /DE/". :func:`news_names` turns one
into the forms an article uses: "GEO Group"; "Amazon.com" and "Amazon";
"Bank of America". :func:`spelling_variants` lists the spellings of one form
that news uses interchangeably ("Coca-Cola" / "Coca Cola", "McDonald's" /
"McDonald’s" / "McDonalds").

Pure functions of their arguments; the universe builder
(``scripts/build_universe.py``) stores their output in ``seeds/universe/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Filing suffixes that news leaves out, compared upper-case without dots or commas.
LEGAL_SUFFIXES = frozenset(
    """
    INC INCORPORATED CORP CORPORATION CO COMPANY LTD LIMITED PLC LLC LP LLP
    NV SA SE AG ASA AB OYJ SPA SPA SAB CV DE BHD TBK KK KGAA PTE PTY SARL SCA
    GMBH LTDA SRL AS
    """.split()
)
#: Markers of a filing, never of a name: "/ADR", "/DE/", "\\DE\\".
_FILING_MARK = re.compile(r"\s*[/\\]\s*[A-Z][A-Z .]*[/\\]?\s*$")
#: Trailing generic words whose removal gives the short name ("Palantir Technologies" -> "Palantir").
GENERIC_TAILS = frozenset(
    """
    Technologies Technology Holdings Holding International Platforms Incorporated
    Worldwide Enterprises Therapeutics Pharmaceuticals Biosciences Biotherapeutics
    Communications Entertainment Industries Systems Solutions Brands Group Global Companies Trust
    """.split()
)
#: Adjectives and places that start many company names: never a short name on their own
#: ("American" of "American International Group").
GEOGRAPHIC_WORDS = frozenset(
    """
    American America National United General First Global International Pacific Atlantic Western Eastern
    Northern Southern Central Royal Federal Continental Universal Standard Republic Liberty Canadian
    British European Asian African Texas California Florida Carolina Virginia Ohio Georgia New Old Great
    North South East West Midwest Mid Atlantic Gulf Coast Mountain Capital Community Citizens Peoples
    Commerce Trust Security Heritage Pioneer Summit Premier Alliance Union Independence Colonial
    """.split()
)
#: Words kept lower case inside a title-cased name.
_CONNECTIVES = frozenset({"of", "and", "the", "for", "de", "du", "la", "le", "des", "y", "et", "in", "on"})
_VOWELS = frozenset("AEIOUY")
_TOKEN = re.compile(r"\S+")
#: Suffixes the registry writes as two tokens ("NOVO NORDISK A S", "S A B DE C V").
_SPLIT_SUFFIX = re.compile(r"(?:\s+A\s+S|\s+S\s*A\s*B\s+DE\s+C\s*V|\s+S\s+A|\s+N\s+V)\s*$")
#: Abbreviations that stay in capitals in a title-cased name.
ACRONYMS = frozenset({"ETF", "ETN", "REIT", "ADR", "USA", "US", "UK", "NV", "II", "III", "IV", "AI", "TV"})


@dataclass(frozen=True)
class NewsNames:
    """The forms of one registry title: the main name and shorter forms."""

    name: str
    aliases: tuple[str, ...] = ()


def news_names(title: str, ticker: str = "") -> NewsNames:
    """Turn a registry title into the names news uses.

    - Filing markers (``/DE/``, ``/ADR``, ``\\NEW\\``) and trailing legal
      suffixes (Inc, Corp, Co, Ltd, PLC, N.V. ...) are dropped, with the
      commas and "&" before them ("ELI LILLY & Co" -> "Eli Lilly").
    - A title written in capitals is title-cased word by word; a word stays
      in capitals when it equals the ticker (or its class base: ``BRK`` of
      ``BRK-B``), has no vowel ("CSX", "NRG"), holds a digit or "&"
      ("AT&T"), or has at most two letters ("US Bancorp").
      Connectives (of, and, the ...) go lower case inside the name.
      Titles already in mixed case keep their casing.
    - A trailing "COM" becomes ".com" and the name without it is an alias
      ("AMAZON COM INC" -> "Amazon.com", "Amazon").
    - A trailing generic word (:data:`GENERIC_TAILS`) gives a short alias
      when what remains is a word of four letters or more or several words
      ("Palantir Technologies" -> "Palantir"); a leading "The" is dropped.

    Parameters
    ----------
    title
        The registry title ("GEO GROUP INC").
    ticker
        The instrument's ticker; words equal to it keep their capitals.

    Returns
    -------
    NewsNames
        ``name`` is empty when nothing remains (a title made only of suffixes).
    """
    text = " ".join(title.replace("\u00a0", " ").split())
    while True:
        stripped = _FILING_MARK.sub("", text)
        if stripped == text:
            break
        text = stripped
    text = _SPLIT_SUFFIX.sub("", text)
    tokens = _TOKEN.findall(text.replace(",", " , "))
    tokens = _drop_legal_tail(tokens)
    shouting = not any(ch.islower() for tok in tokens for ch in tok)
    base = ticker.upper().split("-")[0].split(".")[0]
    words = [_case_word(tok, base, position) if shouting else tok for position, tok in enumerate(tokens)]
    words = [w for w in words if w != ","]
    if words and words[0].lower() == "the" and len(words) > 1:
        words = words[1:]

    aliases: list[str] = []
    if len(words) >= 2 and words[-1].lower() == "com":
        bare = " ".join(words[:-1])
        words = [*words[:-2], f"{words[-2]}.com"]
        aliases.append(bare)
    name = " ".join(words).strip()
    shorter = list(words)
    while len(shorter) >= 2 and shorter[-1] in GENERIC_TAILS:
        shorter = shorter[:-1]
        short = " ".join(shorter)
        if (len(shorter) > 1 or len(short) >= 4) and short != base and short not in aliases:
            aliases.append(short)
    return NewsNames(name=name, aliases=tuple(a for a in aliases if a and a != name))


def _drop_legal_tail(tokens: list[str]) -> list[str]:
    """Remove trailing legal suffixes, and the commas and ampersands they leave."""
    out = list(tokens)
    while out:
        last = out[-1]
        key = last.upper().replace(".", "").replace(",", "").strip("/\\")
        if last in {",", "&", "-"} or key in LEGAL_SUFFIXES or key in {"THE"}:
            # "& Co" and ", Inc." go, but never the only word of the name.
            if len(out) == 1:
                break
            out.pop()
            continue
        break
    return out


def _case_word(token: str, base: str, position: int) -> str:
    """Title-case one capitalised registry word, keeping acronyms."""
    if token == ",":
        return token
    letters = "".join(ch for ch in token if ch.isalpha())
    if not letters:
        return token
    plain = token.strip(".").upper()
    if plain in ACRONYMS:
        return token
    if "-" in token.strip("-"):
        return "-".join(_case_word(part, base, position + index) for index, part in enumerate(token.split("-")))
    if plain == base or any(ch.isdigit() for ch in token) or "&" in token or "." in token.strip("."):
        return token
    if len(letters) <= 2 and position > 0 and token.lower() not in _CONNECTIVES:
        return token
    if len(letters) <= 5 and not _VOWELS & set(letters.upper()):
        return token
    lowered = token.lower()
    if position > 0 and lowered in _CONNECTIVES:
        return lowered
    return lowered[:1].upper() + lowered[1:]


def spelling_variants(name: str) -> set[str]:
    """Spellings of ``name`` that news uses for the same thing.

    The name itself; hyphens as spaces and spaces between words as hyphens
    for two-word names ("Coca-Cola" / "Coca Cola"); straight and curly
    apostrophes and none ("McDonald's" / "McDonald’s" / "McDonalds"); "&" and
    "and" ("Johnson & Johnson" / "Johnson and Johnson"); a word in capitals
    title-cased in a name of several words ("ON Semiconductor" / "On
    Semiconductor"); a one-word name with inner capitals in plain title case
    ("AppLovin" / "Applovin"); and the name in capitals (headlines).
    """
    forms = {name}
    if "-" in name:
        forms.add(name.replace("-", " "))
    parts = name.split(" ")
    if len(parts) == 2 and all(part[:1].isupper() and part.isalpha() for part in parts):
        forms.add("-".join(parts))
    if "'" in name or "\u2019" in name:
        for form in list(forms):
            straight = form.replace("\u2019", "'")
            forms |= {straight, straight.replace("'", "\u2019"), straight.replace("'", "")}
    if " & " in name:
        forms |= {form.replace(" & ", " and ") for form in list(forms)}
    if len(parts) >= 2 and any(len(part) > 1 and part.isupper() and part.isalpha() for part in parts):
        # "ON Semiconductor" is also written "On Semiconductor".
        forms.add(" ".join(p[:1] + p[1:].lower() if p.isupper() and p.isalpha() else p for p in parts))
    if len(parts) == 1 and name.isalpha() and any(ch.isupper() for ch in name[1:]) and not name.isupper():
        forms.add(name[:1].upper() + name[1:].lower())  # "AppLovin" is also written "Applovin"
    forms |= {form.upper() for form in list(forms)}
    return {form for form in forms if form.strip()}
