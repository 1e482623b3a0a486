"""The files news source: the date header, time zones, titles, bad files."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.news.files import FilesNewsSource, UndatedFileError, first_sentence, parse_stamp, read_article

NY = ZoneInfo("America/New_York")
SEED = Path(__file__).resolve().parent.parent / "seeds" / "news" / "2025-02-04-el-salvador-prison-offer.txt"


@pytest.mark.parametrize(
    ("stamp", "expected", "date_only", "zone_given"),
    [
        ("2025-02-04", datetime(2025, 2, 4, tzinfo=timezone.utc), True, False),
        ("2025-02-04T16:35:00-05:00", datetime(2025, 2, 4, 21, 35, tzinfo=timezone.utc), False, True),
        ("2025-02-04T21:35Z", datetime(2025, 2, 4, 21, 35, tzinfo=timezone.utc), False, True),
        # no zone: read in the default zone (EST in February, EDT in July)
        ("2025-02-04T09:00", datetime(2025, 2, 4, 14, 0, tzinfo=timezone.utc), False, False),
        ("2025-07-04T09:00", datetime(2025, 7, 4, 13, 0, tzinfo=timezone.utc), False, False),
    ],
)
def test_parse_stamp(stamp: str, expected: datetime, date_only: bool, zone_given: bool) -> None:
    assert parse_stamp(stamp, NY) == (expected, date_only, zone_given)


@pytest.mark.parametrize("stamp", ["2025-13-01", "yesterday", "2025-02-04T25:00"])
def test_bad_stamps(stamp: str) -> None:
    with pytest.raises(UndatedFileError):
        parse_stamp(stamp, NY)


def test_seed_article() -> None:
    art = read_article(SEED, NY)
    assert art.published_at == datetime(2025, 2, 4, tzinfo=timezone.utc) and art.date_only
    assert art.title.startswith("El Salvador's President Nayib Bukele") and art.title.endswith("Marco Rubio.")
    assert art.body.startswith("Bukele made the proposal")
    assert "CoreCivic, Inc. CXW" in art.body
    assert art.source == "files" and art.source_id == SEED.name


def test_first_sentence_ignores_abbreviations() -> None:
    assert first_sentence("Shares of U.S. Steel rose. Then fell.") == ("Shares of U.S. Steel rose.", "Then fell.")
    assert first_sentence("Mr. Smith met Dr. Jones. Done.")[0] == "Mr. Smith met Dr. Jones."


def test_folder_skips_bad_files_and_reads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("date 2025-03-03T10:00:00-05:00 Title line\n\nBody text.")
    (tmp_path / "undated.txt").write_text("Title without a date")
    (tmp_path / "empty.txt").write_text("date 2025-03-03 ")
    (tmp_path / "latin1.txt").write_bytes("date 2025-03-03 caf\xe9".encode("latin-1"))
    (tmp_path / "notes.csv").write_text("ignored")
    batch = FilesNewsSource([tmp_path, tmp_path / "missing"], NY).fetch()
    assert [a.source_id for a in batch.articles] == ["good.md"]
    reasons = {Path(d.item).name: d.reason for d in batch.dropped}
    assert set(reasons) == {"undated.txt", "empty.txt", "latin1.txt"}
    assert reasons["latin1.txt"] == "not UTF-8 text"
    assert "date" in reasons["undated.txt"]
    assert batch.seen == 4


def test_articles_without_text_are_keyed_by_origin() -> None:
    from monitor.models import Article

    when = datetime(2025, 2, 4, tzinfo=timezone.utc)
    a = Article("feed:x", "https://x.test/1", "", "", when, url="https://x.test/1")
    b = Article("feed:x", "https://x.test/2", "", "", when, url="https://x.test/2")
    assert a.key != b.key and a.key == Article("feed:x", "https://x.test/1", "", "", when, url="https://x.test/1").key
    text = "CoreCivic shares fell on Tuesday after the offer."
    # with real text the key is the content hash, whatever the source
    assert Article("feed:x", "1", text, "", when).key == Article("feed:y", "2", text, "", when).key
