"""Feeds through the whole pipeline: bad feeds fail alone, polling again stores nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import feed_server
import pytest

from monitor.config import FeedConfig, load_settings
from monitor.pipeline import Pipeline
from monitor.store import db, repo

NOT_XML = b"<html><body><h1>Welcome</h1><p>This is not a feed.</p></body></html>"


@pytest.fixture
def server():
    with feed_server.serve() as srv:
        yield srv


def test_bad_feeds_fail_alone_and_a_second_poll_adds_nothing(db_url: str, seeds_copy: Path, server, caplog) -> None:
    good = feed_server.generated_feed(60, seed=5)
    server.add("/good.rss", good, etag='"g1"', encoding="gzip")
    server.add("/html", NOT_XML, content_type="text/html")
    server.add("/gone.rss", b"not found", status=404)
    server.redirect("/sneaky.rss", "http://127.0.0.1:9/internal")
    feeds = [
        FeedConfig(name="good", url=server.url("/good.rss")),
        FeedConfig(name="html", url=server.url("/html")),
        FeedConfig(name="gone", url=server.url("/gone.rss")),
        # the start host is trusted, the redirect target is checked like any other address
        FeedConfig(name="sneaky", url=server.url("/sneaky.rss", host="localhost")),
        FeedConfig(name="local-file", url="file:///etc/passwd"),
    ]
    settings = load_settings(database_url=db_url, seeds_dir=seeds_copy, feeds=feeds)
    engine = db.open_store(db_url)
    pipeline = Pipeline(settings, engine)
    # The test server is on 127.0.0.1, which feeds may not reach by default:
    # trust it by name for the feeds under test, as `allow_private_hosts` does.
    for src in pipeline.sources:
        if src.name in ("feed:good", "feed:html", "feed:gone"):
            src.allow_private_hosts = ("127.0.0.1",)
        if src.name == "feed:sneaky":
            src.allow_private_hosts = ("localhost",)
    with caplog.at_level(logging.WARNING, logger="monitor"):
        first = pipeline.run_pass()
    failures = {r.getMessage().split(" failed: ")[0] for r in caplog.records if " failed: " in r.getMessage()}
    assert failures == {"source feed:html", "source feed:gone", "source feed:sneaky", "source feed:local-file"}
    with engine.connect() as conn:
        health = {h["name"]: h for h in repo.sources_health(conn)}
        stored = repo.count_rows(conn)
    assert health["feed:good"]["status"] == "ok" and health["feed:good"]["etag"] == '"g1"'
    assert "not an RSS or Atom feed" in health["feed:html"]["last_error"]
    assert "404" in health["feed:gone"]["last_error"]
    assert "127.0.0.1" in health["feed:sneaky"]["last_error"]
    assert "only http and https" in health["feed:local-file"]["last_error"]
    assert first.articles_new > 40 and first.events_new > 0
    assert server.requests_for("/internal") == []

    caplog.clear()
    second = pipeline.run_pass()
    with engine.connect() as conn:
        assert repo.count_rows(conn) == stored
    assert second.articles_new == 0 and second.events_new == 0
    assert server.requests_for("/good.rss")[-1].header("If-None-Match") == '"g1"'
    with engine.connect() as conn:
        good_polls = [h for h in repo.sources_health(conn) if h["name"] == "feed:good"][0]
    assert good_polls["last_poll"]["status"] == "not_modified" and good_polls["status"] == "ok"
