"""The public archive over real HTTP: published issues, no personal data, an Atom feed."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tidings.bootstrap import Runtime
from tidings.domain.errors import Conflict, InvalidTransition, ValidationError
from tidings.domain.lists import OptIn
from tidings.mail import links
from tidings.mail.tokens import Purpose
from tidings.services import archive, campaigns, lists, sending, subscribers

ATOM = "{http://www.w3.org/2005/Atom}"
PEOPLE = [("ann.private@example.com", "Annabelle Quixote", "Tromsø"),
          ("bob.secret@example.org", "Bartholomew Zed", "Hammerfest")]
BODY = """# The week in review

Dear {{ subscriber.name }} ({{ subscriber.email }}), greetings to
{{ subscriber.attributes.city | default("your town") }}.

<script>alert("x")</script><p onmouseover="steal()">Read on.</p>

[Unsubscribe]({{ unsubscribe_url }}) · [Preferences]({{ preferences_url }})
"""


@pytest.fixture
def published(runtime: Runtime) -> str:
    db = runtime.db
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    for email, name, city in PEOPLE:
        subscribers.add(db, email=email, name=name, attributes={"city": city},
                        lists=["news"], preconfirmed=True)
    draft = campaigns.create(db, name="Week 12", subject="Hello {{ subscriber.first_name }}!",
                             body=BODY, lists=["news"])
    sending.start(db, draft.uid)
    return archive.publish(db, draft.uid).archive_slug or ""


def _personal(runtime: Runtime, campaign_uid: str) -> list[str]:
    """Everything that identifies one of the readers."""
    found: list[str] = []
    with runtime.db.read() as conn:
        campaign = campaigns.find(conn, campaign_uid)
        for email, name, city in PEOPLE:
            reader = subscribers.find(conn, email)
            found += [email, email.split("@")[0], name, *name.split(), city, reader.uid]
            for list_id in (0, *campaign.list_ids):
                found.append(links.unsubscribe_token(runtime.tokens, reader.id, list_id,
                                                     campaign.id))
            found.append(runtime.tokens.sign(Purpose.PREFERENCES, reader.id))
    return found


def test_an_issue_shows_without_any_reader_data(runtime: Runtime, client: TestClient,
                                                published: str) -> None:
    assert published == "week-12"
    page = client.get(f"/archive/{published}")
    assert page.status_code == 200
    html = page.text
    assert "The week in review" in html and "greetings to" in html
    assert "reader@example.com" in html and "your town" in html
    assert "Hello Reader!" in html and "Dear Reader (reader@example.com)" in html
    uid = archive.issue(runtime.db, published).uid
    leaked = [item for item in _personal(runtime, uid) if item in html]
    assert leaked == []
    assert "/u/" not in html and "/preferences/" not in html
    assert 'href="https://news.example.org/subscribe"' in html
    assert "<script" not in html and "onmouseover" not in html
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_index_and_the_feed(runtime: Runtime, client: TestClient, published: str) -> None:
    index = client.get("/archive")
    assert index.status_code == 200 and f'href="/archive/{published}"' in index.text
    feed = client.get("/archive/feed.xml")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(feed.content)  # noqa: S314 (our own output)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext(f"{ATOM}id") == f"https://news.example.org/archive/{published}"
    link = entry.find(f"{ATOM}link")
    assert link is not None and link.get("href") == entry.findtext(f"{ATOM}id")
    content = entry.findtext(f"{ATOM}content") or ""
    assert "The week in review" in content
    uid = archive.issue(runtime.db, published).uid
    assert [item for item in _personal(runtime, uid) if item in feed.text] == []
    assert [item for item in _personal(runtime, uid) if item in index.text] == []


def test_only_published_issues_that_went_out_are_shown(runtime: Runtime,
                                                       client: TestClient) -> None:
    db = runtime.db
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    draft = campaigns.create(db, name="Not yet", subject="Soon", body="b", lists=["news"])
    archive.publish(db, draft.uid, slug="soon")
    assert client.get("/archive/soon").status_code == 404  # a draft stays private
    sending.start(db, draft.uid)
    assert client.get("/archive/soon").status_code == 200
    archive.unpublish(db, draft.uid)
    assert client.get("/archive/soon").status_code == 404
    assert "Soon" not in client.get("/archive").text
    archive.publish(db, draft.uid)
    assert archive.issue(db, "soon").uid == draft.uid  # the slug was kept
    sending.cancel(db, draft.uid)
    assert client.get("/archive/soon").status_code == 404
    with pytest.raises(InvalidTransition):
        archive.publish(db, draft.uid)
    for path in ("/archive/nothing", "/archive/../../etc/passwd", "/archive/%00"):
        assert client.get(path).status_code == 404


def test_slugs_are_checked_and_unique(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    first = campaigns.create(db, name="Ünïcode & Co: Issue #1", subject="s", body="b",
                             lists=["news"])
    second = campaigns.create(db, name="Unicode & Co — Issue 1", subject="s", body="b",
                              lists=["news"])
    assert archive.publish(db, first.uid).archive_slug == "unicode-co-issue-1"
    assert archive.publish(db, second.uid).archive_slug == "unicode-co-issue-1-2"
    with pytest.raises(Conflict):
        archive.publish(db, second.uid, slug="unicode-co-issue-1")
    for bad in ("", "Upper", "a/b", "-x", "x" * 101, "a b"):
        with pytest.raises(ValidationError):
            archive.publish(db, second.uid, slug=bad)
    assert campaigns.get(db, second.uid).archive_slug == "unicode-co-issue-1-2"
