"""How much an article is about one instrument: a score from 0 to 100.

The score is a pure, deterministic function of where and how the
instrument's mentions occur in the article; see :func:`relevance`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from monitor.models import TEXT_SEPARATOR, Mention

#: Points for each signal; they add up to 100.
TITLE_WEIGHT = 30.0
LEAD_WEIGHT = 10.0
EXPLICIT_WEIGHT = 25.0
COUNT_WEIGHT = 15.0
FOCUS_WEIGHT = 20.0
#: An article that tags at most this many instruments is fully about each of them (focus 1);
#: beyond, each one's focus shrinks as 1/k.
FOCUS_PEERS = 3
#: Relevance bands: at or above HIGH the article is about the instrument; below LOW it only names it.
HIGH_RELEVANCE = 50.0
LOW_RELEVANCE = 25.0

#: Mention forms that name the instrument unmistakably.
EXPLICIT_METHODS = frozenset({"cashtag", "exchange_ticker", "name_ticker", "name_code", "pair", "paren_ticker"})

#: The first paragraph ends at the first blank line, or after this many characters.
LEAD_MAX_CHARS = 600

_BLANK_LINE = re.compile(r"\n[ \t]*\n")


class ArticleLayout(NamedTuple):
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
        blank = _BLANK_LINE.search(body, 0, LEAD_MAX_CHARS + 2)
        lead_length = min(blank.start() if blank else len(body), LEAD_MAX_CHARS)
        return cls(title_end=len(title), lead_start=lead_start, lead_end=lead_start + lead_length)

    def in_title(self, mention: Mention) -> bool:
        return mention.start < self.title_end

    def in_lead(self, mention: Mention) -> bool:
        return self.lead_start <= mention.start < self.lead_end


def relevance(mentions: Sequence[Mention], instruments: int, layout: ArticleLayout) -> float:
    """Score how much an article is about the instrument of ``mentions``.

    With ``n`` the instrument's mentions and ``k`` the number of instruments
    the article tags::

        score = 30 * [named in the title]
              + 10 * [named in the first paragraph of the body]
              + 25 * [named in an explicit form: cashtag, exchange_ticker,
                      name_ticker, name_code, paren_ticker or pair]
              + 15 * (1 - 2 ** -n)          # more mentions, saturating
              + 20 * min(1, 3 / k)          # focus: one of a few, or one of many

    where ``[...]`` is 1 when true and 0 otherwise. An article titled with
    the instrument and naming it repeatedly scores near 100; one that tags
    it explicitly, once, beside two others scores 52.5 (high: >= 50, the
    band of :data:`HIGH_RELEVANCE`); one that names it once, in passing,
    among twenty others scores about 10 (low: < 25).

    Parameters
    ----------
    mentions
        The mentions of one instrument in the article.
    instruments
        How many instruments the article tags (at least 1).
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
    peers = max(instruments, 1)
    title_end, lead_start, lead_end = layout.title_end, layout.lead_start, layout.lead_end
    in_title = in_lead = explicit = False
    for mention in mentions:
        start = mention.start
        in_title = in_title or start < title_end
        in_lead = in_lead or lead_start <= start < lead_end
        explicit = explicit or mention.method in EXPLICIT_METHODS
    score = (
        TITLE_WEIGHT * in_title
        + LEAD_WEIGHT * in_lead
        + EXPLICIT_WEIGHT * explicit
        + COUNT_WEIGHT * (1.0 - 2.0**-count)
        + FOCUS_WEIGHT * min(1.0, FOCUS_PEERS / peers)
    )
    return round(min(100.0, max(0.0, score)), 1)
