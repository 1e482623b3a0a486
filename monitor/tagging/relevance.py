"""How much an article is about one instrument: a score from 0 to 100.

The score is a pure, deterministic function of where and how the
instrument's mentions occur in the article; see :func:`relevance`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.models import TEXT_SEPARATOR, Mention

#: Points for each signal; they add up to 100.
TITLE_WEIGHT = 35.0
LEAD_WEIGHT = 15.0
EXPLICIT_WEIGHT = 15.0
COUNT_WEIGHT = 15.0
SHARE_WEIGHT = 20.0

#: Mention forms that name the instrument unmistakably.
EXPLICIT_METHODS = frozenset({"cashtag", "exchange_ticker", "name_ticker", "name_code", "pair"})

#: The first paragraph ends at the first blank line, or after this many characters.
LEAD_MAX_CHARS = 600

_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class ArticleLayout:
    """Where the title and the first paragraph lie in ``title + TEXT_SEPARATOR + body``.

    Offsets are half-open: the title is ``[0, title_end)``, the first
    paragraph of the body ``[lead_start, lead_end)``.
    """

    title_end: int
    lead_start: int
    lead_end: int

    @classmethod
    def of(cls, title: str, body: str) -> ArticleLayout:
        """The layout of an article with this title and body."""
        lead_start = len(title) + len(TEXT_SEPARATOR)
        blank = _BLANK_LINE.search(body)
        lead_length = min(blank.start() if blank else len(body), LEAD_MAX_CHARS)
        return cls(title_end=len(title), lead_start=lead_start, lead_end=lead_start + lead_length)

    def in_title(self, mention: Mention) -> bool:
        return mention.start < self.title_end

    def in_lead(self, mention: Mention) -> bool:
        return self.lead_start <= mention.start < self.lead_end


def relevance(mentions: Sequence[Mention], total_mentions: int, layout: ArticleLayout) -> float:
    """Score how much an article is about the instrument of ``mentions``.

    With ``n`` the instrument's mentions and ``N`` all mentions of every
    instrument in the article::

        score = 35 * [named in the title]
              + 15 * [named in the first paragraph of the body]
              + 15 * [named in an explicit form: cashtag, exchange_ticker,
                      name_ticker, name_code or pair]
              + 15 * (1 - 2 ** -n)          # more mentions, saturating
              + 20 * n / N                  # its share of the article's mentions

    where ``[...]`` is 1 when true and 0 otherwise. An article titled with
    the instrument and naming it repeatedly and alone scores near 100; one
    that names it once, in passing, among twenty others scores under 25.

    Parameters
    ----------
    mentions
        The mentions of one instrument in the article.
    total_mentions
        The number of mentions of all instruments in the article
        (at least ``len(mentions)``).
    layout
        Where the article's title and first paragraph are.

    Returns
    -------
    float
        The score, clamped to [0, 100] and rounded to one decimal; 0.0 when
        there are no mentions.
    """
    count = len(mentions)
    if count == 0:
        return 0.0
    total = max(total_mentions, count)
    score = (
        TITLE_WEIGHT * any(layout.in_title(m) for m in mentions)
        + LEAD_WEIGHT * any(layout.in_lead(m) for m in mentions)
        + EXPLICIT_WEIGHT * any(m.method in EXPLICIT_METHODS for m in mentions)
        + COUNT_WEIGHT * (1.0 - 2.0**-count)
        + SHARE_WEIGHT * count / total
    )
    return round(min(100.0, max(0.0, score)), 1)
