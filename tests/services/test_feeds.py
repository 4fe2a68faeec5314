"""RSS-to-email against a real HTTP server on loopback: digests, schedules, hostile feeds."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.feed_server import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    SEED_TITLE,
    Entry,
    FeedServer,
    Response,
    drip,
    endless,
    gzip_bomb,
    rss,
    seed_entry,
)
from tidings.bootstrap import Runtime
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.errors import FeedUnavailable, ValidationError
from tidings.domain.feeds import Frequency
from tidings.domain.lists import OptIn
from tidings.services import campaigns, feeds, lists, scheduling, subscribers
from tidings.services.fetcher import Fetcher, is_public

LOCAL = Fetcher(allow_loopback=True, timeout=2.0, max_bytes=256 * 1024)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.routes["/feed.xml"] = Response(body=rss([seed_entry(running.base)]))
        yield running


@pytest.fixture
def news(runtime: Runtime) -> None:
    lists.create(runtime.db, slug="news", name="News", optin=OptIn.SINGLE)
    subscribers.add(runtime.db, email="ann@example.com", name="Ann", lists=["news"],
                    preconfirmed=True)


def _add(runtime: Runtime, server: FeedServer, **kw: object) -> str:
    options: dict[str, object] = {"name": "Daily Column", "url": server.url("/feed.xml"),
                                  "lists": ["news"], "send_time": "08:00",
                                  "timezone": "Europe/Oslo", "include_existing": True,
                                  "fetcher": LOCAL}
    options.update(kw)
    return feeds.add(runtime.db, **options).uid  # type: ignore[arg-type]


@pytest.mark.usefixtures("news")
def test_new_items_become_a_digest_draft(runtime: Runtime, server: FeedServer) -> None:
    db = runtime.db
    uid = _add(runtime, server)
    result = feeds.run(db, uid, fetcher=LOCAL)
    assert result.items == 1 and not result.started
    assert result.campaign is not None and result.campaign.status is CampaignStatus.DRAFT
    shown = campaigns.preview(db, result.campaign.uid, site=runtime.settings,
                              tokens=runtime.tokens, subscriber="ann@example.com")
    assert SEED_TITLE in shown.html and SEED_TITLE in shown.text
    assert "Secretary of State John Kerry met Russian President" in shown.text
    assert f'src="{server.base}/images/kerry-putin.jpg"' in shown.html
    assert f'href="{server.base}/2015/05/kerry-and-putin"' in shown.html
    assert dict(shown.headers)["Subject"] == "Daily Column"
    # Every request carried the feed host's name, and nothing else was asked for.
    assert {host for _, host in server.requests} == {f"127.0.0.1:{server.port}"}

    assert feeds.run(db, uid, fetcher=LOCAL).campaign is None  # nothing new since
    server.routes["/feed.xml"] = Response(body=rss([
        Entry("A second column", f"{server.base}/second", "<p>More.</p>",
              published=datetime(2015, 6, 1, tzinfo=UTC)),
        seed_entry(server.base)]))
    second = feeds.run(db, uid, fetcher=LOCAL)
    assert second.items == 1 and second.campaign is not None
    assert "A second column" in second.campaign.body and SEED_TITLE not in second.campaign.body


@pytest.mark.usefixtures("news")
def test_items_present_at_registration_are_skipped_by_default(runtime: Runtime,
                                                              server: FeedServer) -> None:
    uid = _add(runtime, server, include_existing=False)
    assert feeds.run(runtime.db, uid, fetcher=LOCAL).campaign is None


@pytest.mark.usefixtures("news")
def test_auto_send_starts_the_digest(runtime: Runtime, server: FeedServer) -> None:
    uid = _add(runtime, server, auto_send=True)
    result = feeds.run(runtime.db, uid, fetcher=LOCAL)
    assert result.started and result.campaign is not None
    assert result.campaign.status is CampaignStatus.RUNNING and result.campaign.total == 1


@pytest.mark.usefixtures("news")
def test_feed_text_never_runs_as_a_template(runtime: Runtime, server: FeedServer) -> None:
    db = runtime.db
    hostile = Entry(title="{{ subscriber.email }} {% endraw %}{{ 7919 * 7877 }}{%- endraw -%}",
                    link=f"{server.base}/x?a={{{{b}}}}",
                    description="<script>alert(1)</script><p onclick='x()'>{{ unsubscribe_url }}"
                                "</p><img src='javascript:alert(1)'>",
                    image="javascript:alert(2)")
    server.routes["/feed.xml"] = Response(body=rss([hostile]))
    result = feeds.run(db, _add(runtime, server), fetcher=LOCAL)
    assert result.campaign is not None
    shown = campaigns.preview(db, result.campaign.uid, site=runtime.settings,
                              tokens=runtime.tokens, subscriber="ann@example.com")
    for part in (shown.html, shown.text):
        assert "ann@example.com" not in part
        assert "{{ subscriber.email }}" in part and "62377963" not in part
        assert "{{ unsubscribe_url }}" in part
        assert "<script" not in part and "javascript:" not in part and "onclick" not in part


def test_the_digest_escapes_and_neutralises_feed_text() -> None:
    from tidings.domain.feeds import Item

    body = feeds.digest_body("T", [Item(guid="g", title="<b>{% endraw %}</b>",
                                        link="http://x/{%}", excerpt="a & b")])
    assert body.startswith("{% raw %}") and body.endswith("{% endraw %}")
    assert body.count("{% endraw %}") == 1
    assert "&lt;b&gt;" in body and "a &amp; b" in body and 'href="http://x/%7B%%7D"' in body


@pytest.mark.usefixtures("news")
def test_the_scheduler_runs_feeds_at_their_local_time(runtime: Runtime,
                                                      server: FeedServer) -> None:
    db = runtime.db
    uid = _add(runtime, server, frequency=Frequency.WEEKLY, weekday="monday", auto_send=True)
    feed = feeds.get(db, uid)
    assert feed.next_run_at is not None and feed.weekday == 0
    local = feed.next_run_at.astimezone(ZoneInfo("Europe/Oslo"))
    assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    assert scheduling.run_due(db, feed.next_run_at - timedelta(seconds=1), fetcher=LOCAL) == []
    started = scheduling.run_due(db, feed.next_run_at + timedelta(seconds=2), fetcher=LOCAL)
    assert len(started) == 1 and started[0].status is CampaignStatus.RUNNING
    after = feeds.get(db, uid)
    assert after.next_run_at is not None and after.last_error is None
    following = after.next_run_at.astimezone(ZoneInfo("Europe/Oslo"))
    assert (following.date() - local.date(), following.hour) == (timedelta(days=7), 8)


@pytest.mark.usefixtures("news")
def test_a_long_missed_run_keeps_the_digest_as_a_draft(runtime: Runtime,
                                                       server: FeedServer) -> None:
    db = runtime.db
    uid = _add(runtime, server, auto_send=True)
    due = feeds.get(db, uid).next_run_at
    assert due is not None
    assert scheduling.run_due(db, due + timedelta(hours=5), fetcher=LOCAL) == []
    digests = [c for c in campaigns.recent(db) if c.extra.get("feed") == uid]
    assert len(digests) == 1 and digests[0].status is CampaignStatus.DRAFT


def test_next_runs_follow_daylight_saving() -> None:
    from tidings.domain.feeds import next_run
    from tidings.domain.timezones import zone

    oslo = zone("Europe/Oslo")
    before = datetime(2026, 3, 28, 7, 30, tzinfo=UTC)  # 08:30 CET on Saturday
    assert next_run(before, Frequency.DAILY, None, "08:00", oslo) == \
        datetime(2026, 3, 29, 6, 0, tzinfo=UTC)      # Sunday 08:00 is CEST
    assert next_run(before, Frequency.DAILY, None, "02:30", oslo) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)     # skipped 02:30 runs at 03:30 CEST
    assert next_run(datetime(2026, 10, 24, 12, tzinfo=UTC), Frequency.DAILY, None, "02:30",
                    oslo) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # first of the two


HOSTILE = {
    "/missing": (None, "HTTP 404"),
    "/html": (Response(body=b"<html><body>Hello</body></html>",
                       headers=(("Content-Type", "text/html"),)), "not an RSS or Atom"),
    "/huge": (Response(body=b"x" * (300 * 1024)), "larger than"),
    "/endless": (Response(body=endless()), "larger than"),
    "/gzip-bomb": (Response(body=gzip_bomb(20 * 1024 * 1024),
                            headers=(("Content-Type", "application/rss+xml"),
                                     ("Content-Encoding", "gzip"))), "larger than"),
    "/slow": (Response(body=drip(b"<", 0.4, 20)), "within 2 seconds"),
    "/bomb": (Response(body=BILLION_LAUGHS), "entities"),
    "/xxe": (Response(body=EXTERNAL_ENTITY), "entities"),
    "/to-private": (Response(302, headers=(("Location", "http://10.1.2.3/feed.xml"),)),
                    "private or reserved"),
    "/to-metadata": (Response(302, headers=(
        ("Location", "http://169.254.169.254/latest/meta-data/"),)), "private or reserved"),
    "/to-mapped": (Response(302, headers=(("Location", "http://[::ffff:192.168.1.1]/"),)),
                   "private or reserved"),
    "/to-file": (Response(302, headers=(("Location", "file:///etc/passwd"),)),
                 "unusable address"),
    "/to-gopher": (Response(302, headers=(("Location", "gopher://127.0.0.1:70/"),)),
                   "unusable address"),
    "/loop": (Response(302, headers=(("Location", "/loop"),)), "redirects more than"),
}


@pytest.mark.parametrize("path", sorted(HOSTILE))
def test_hostile_feeds_are_refused(server: FeedServer, path: str) -> None:
    response, message = HOSTILE[path]
    if response is not None:
        server.routes[path] = response
    with pytest.raises(FeedUnavailable, match=message):
        feeds.parse(LOCAL.fetch(server.url(path)).content)


def test_redirects_to_public_paths_are_followed(server: FeedServer) -> None:
    server.routes["/old"] = Response(301, headers=(("Location", "/feed.xml"),))
    fetched = LOCAL.fetch(server.url("/old"))
    assert fetched.url == server.url("/feed.xml")
    assert feeds.parse(fetched.content).items[0].title == SEED_TITLE


def test_malformed_xml_keeps_what_can_be_read(server: FeedServer) -> None:
    server.routes["/broken"] = Response(body=rss([seed_entry(server.base)])[:-40])
    parsed = feeds.parse(LOCAL.fetch(server.url("/broken")).content)
    assert [i.title for i in parsed.items] == [SEED_TITLE]
    server.routes["/garbage"] = Response(body=b"\x00\xff<<<>>>" * 100)
    with pytest.raises(FeedUnavailable):
        feeds.parse(LOCAL.fetch(server.url("/garbage")).content)


def test_without_the_test_override_loopback_is_refused(server: FeedServer) -> None:
    for url in (server.url("/feed.xml"), f"http://localhost:{server.port}/feed.xml",
                f"http://2130706433:{server.port}/feed.xml",
                f"http://[::1]:{server.port}/feed.xml"):
        with pytest.raises(FeedUnavailable, match="private or reserved"):
            Fetcher().fetch(url)
    assert server.requests == []


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.org/feed.xml", "gopher://example.org/",
    "javascript:alert(1)", "http://user:secret@example.org/feed", "http://", "/feed.xml",
    "http://example.org/a b", "http://example.org:99999/",
])
def test_unusable_urls_are_refused_before_any_request(runtime: Runtime, url: str) -> None:
    lists.create(runtime.db, slug="news", name="News")
    with pytest.raises(ValidationError):
        feeds.add(runtime.db, name="x", url=url, lists=["news"], send_time="08:00",
                  fetcher=LOCAL)
    assert feeds.all_feeds(runtime.db) == []


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.0.1", False),
    ("100.64.0.1", False), ("169.254.169.254", False), ("0.0.0.0", False),  # noqa: S104
    ("224.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("::", False),
    ("fe80::1", False), ("fd00::1", False), ("::ffff:10.0.0.1", False),
    ("2002:0a00:0001::1", False), ("64:ff9b::10.0.0.1", False), ("ff02::1", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.usefixtures("news")
def test_a_failing_feed_is_recorded_and_does_not_stop_others(runtime: Runtime,
                                                             server: FeedServer) -> None:
    db = runtime.db
    good = _add(runtime, server, name="Good", auto_send=True)
    server.routes["/other.xml"] = Response(body=rss([Entry("Other", f"{server.base}/o")]))
    bad = _add(runtime, server, name="Bad", url=server.url("/other.xml"))
    server.routes["/other.xml"] = Response(body=BILLION_LAUGHS)
    due = max(feeds.get(db, good).next_run_at, feeds.get(db, bad).next_run_at)  # type: ignore[type-var]
    started = scheduling.run_due(db, due + timedelta(seconds=1), fetcher=LOCAL)
    assert len(started) == 1
    failed = feeds.get(db, bad)
    assert failed.last_error is not None and "entities" in failed.last_error
    assert failed.next_run_at == due + timedelta(seconds=1) + feeds.RETRY_AFTER
    with pytest.raises(FeedUnavailable):
        feeds.run(db, bad, fetcher=LOCAL)
