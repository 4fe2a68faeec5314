"""The embeddable snippet."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.public.conftest import Lists
from tidings.bootstrap import Runtime
from tidings.db import consents
from tidings.services import lists
from tidings.web.embed import embed_snippet


def test_snippet_is_a_plain_form_with_an_optional_script(runtime: Runtime,
                                                         readers_lists: Lists) -> None:
    html = embed_snippet("https://news.example.org/", lists.all_lists(runtime.db), db=runtime.db)
    assert '<form class="tidings-signup" method="post" ' \
           'action="https://news.example.org/subscribe"' in html
    assert 'data-tidings-api="https://news.example.org/api/public"' in html
    assert '<script src="https://news.example.org/static/public/signup.js" defer>' in html
    assert "Sign up to our free newsletters" in html
    assert "Get the best updates straight to your inbox:" in html
    assert readers_lists.daily.uid in html and readers_lists.weekly.uid in html
    assert readers_lists.vip.uid not in html and "Insiders" not in html
    assert " checked" not in html
    assert 'name="source" value="embed"' in html
    assert 'id="tidings-check-inbox"' in html and ":target" in html
    # Nothing from anywhere but Tidings itself.
    assert set(re.findall(r'(?:src|href|action)="(https?://[^/"]+)', html)) == {
        "https://news.example.org"}
    digest = re.search(r'name="consent_hash" value="([0-9a-f]{64})"', html)
    assert digest is not None
    with runtime.db.read() as conn:
        assert consents.has_text(conn, digest.group(1))
    plain = embed_snippet("https://news.example.org", [readers_lists.daily], db=runtime.db,
                          with_script=False)
    assert "<script" not in plain and "data-tidings-api" not in plain


@pytest.mark.usefixtures("readers_lists")
def test_snippet_endpoint(client: TestClient) -> None:
    response = client.get("/embed/snippet?list=weekly")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "Weekly Review" in response.text and "The Daily Brief" not in response.text
    assert client.get("/embed/snippet?list=vip").status_code == 422


def test_snippet_without_a_database(client: TestClient, runtime: Runtime,
                                    readers_lists: Lists) -> None:
    with pytest.raises(ValueError, match="consent_text"):
        embed_snippet("https://news.example.org", [readers_lists.daily])
    html = embed_snippet("https://news.example.org", [readers_lists.daily],
                         consent_text="Words of the snippet.",
                         privacy_url="javascript:alert(1)")
    assert "Words of the snippet." in html and "javascript:" not in html
    assert 'name="consent_hash" value=""' in html
    # Its plain-form signups record the consent text of the day.
    token = re.search(r'name="lists" value="([^"]+)"', html)
    assert token is not None
    from tests.web.public.conftest import form_token

    client.post("/subscribe", data={"email": "s@example.com", "lists": token.group(1),
                                    "source": "embed", "ts": form_token(runtime),
                                    "consent_hash": ""})
    with runtime.db.read() as conn:
        (record,) = consents.for_subscriber(conn, 1)
    assert "third-party marketing platform" in record["text"]
