"""``/u/<token>``: the unsubscribe page and the RFC 8058 one-click endpoint."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.web.public.conftest import Lists, count, unsubscribe_path
from tidings.bootstrap import Runtime
from tidings.db import consents
from tidings.services import subscribers


@pytest.fixture
def reader(runtime: Runtime, readers_lists: Lists) -> int:
    added = subscribers.add(runtime.db, email="ann@example.com", lists=["daily", "weekly"],
                            preconfirmed=True, consent_text="I agree.")
    return added.id


def statuses(runtime: Runtime, sid: int) -> dict[int, str]:
    with runtime.db.read() as conn:
        rows = conn.execute(text("SELECT list_id, status FROM subscriptions "
                                 "WHERE subscriber_id = :s"), {"s": sid}).all()
    return {list_id: status for list_id, status in rows}


def one_click(client: TestClient, path: str, encoding: str) -> httpx.Response:
    client.cookies.clear()
    if encoding == "urlencoded":
        return client.post(path, content=b"List-Unsubscribe=One-Click", follow_redirects=False,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    return client.post(path, files={"List-Unsubscribe": (None, "One-Click")},
                       follow_redirects=False)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribes_inside_the_request(client: TestClient, runtime: Runtime,
                                                   readers_lists: Lists, reader: int,
                                                   encoding: str) -> None:
    path = unsubscribe_path(runtime, reader, readers_lists.daily.id, 7)
    response = one_click(client, path, encoding)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    # The row changed before the response came back: read it now, from another connection.
    assert statuses(runtime, reader) == {readers_lists.daily.id: "unsubscribed",
                                         readers_lists.weekly.id: "confirmed"}
    with runtime.db.read() as conn:
        record = consents.for_subscriber(conn, reader)[-1]
    assert (record["action"], record["source"]) == ("unsubscribe", "one-click")
    assert record["list_ids"] == [readers_lists.daily.id] and record["ip"]
    again = one_click(client, path, encoding)
    assert again.status_code == 200
    assert count(runtime, "consents", "action = 'unsubscribe'") == 1


def test_one_click_with_an_all_lists_token(client: TestClient, runtime: Runtime,
                                           reader: int) -> None:
    response = one_click(client, unsubscribe_path(runtime, reader), "urlencoded")
    assert response.status_code == 200
    assert set(statuses(runtime, reader).values()) == {"unsubscribed"}


def test_get_never_changes_anything(client: TestClient, runtime: Runtime,
                                    readers_lists: Lists, reader: int) -> None:
    path = unsubscribe_path(runtime, reader, readers_lists.daily.id)
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200
        assert f'action="{path}"' in page.text and "Only The Daily Brief" in page.text
    assert set(statuses(runtime, reader).values()) == {"confirmed"}
    assert count(runtime, "consents", "action = 'unsubscribe'") == 0


def test_page_button_can_leave_all_lists(client: TestClient, runtime: Runtime,
                                         readers_lists: Lists, reader: int) -> None:
    path = unsubscribe_path(runtime, reader, readers_lists.daily.id)
    response = client.post(path, data={"scope": "all"}, follow_redirects=False)
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert set(statuses(runtime, reader).values()) == {"unsubscribed"}
    with runtime.db.read() as conn:
        record = consents.for_subscriber(conn, reader)[-1]
    assert record["source"] == "page"
    assert sorted(record["list_ids"]) == sorted([readers_lists.daily.id,
                                                 readers_lists.weekly.id])


def test_page_button_for_one_list(client: TestClient, runtime: Runtime,
                                  readers_lists: Lists, reader: int) -> None:
    client.post(unsubscribe_path(runtime, reader, readers_lists.weekly.id),
                data={"scope": "list"})
    assert statuses(runtime, reader) == {readers_lists.daily.id: "confirmed",
                                         readers_lists.weekly.id: "unsubscribed"}


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: ("B" if t[0] != "B" else "C") + t[1:],
    lambda t: t[:-3],
    lambda t: t + "AA",
    lambda t: t.replace("-", "+"),
    lambda t: "",
])
def test_forged_or_altered_tokens_change_nothing(client: TestClient, runtime: Runtime,
                                                 readers_lists: Lists, reader: int,
                                                 mangle: object) -> None:
    token = unsubscribe_path(runtime, reader, readers_lists.daily.id).rsplit("/", 1)[1]
    bad = mangle(token)  # type: ignore[operator]
    if bad == token:
        bad = token[:-2]
    response = one_click(client, f"/u/{bad}", "urlencoded")
    assert response.status_code in (400, 404, 405)
    assert set(statuses(runtime, reader).values()) == {"confirmed"}


def test_tokens_of_another_purpose_are_refused(client: TestClient, runtime: Runtime,
                                               reader: int) -> None:
    from tidings.mail.tokens import Purpose

    forged = runtime.tokens.sign(Purpose.PREFERENCES, reader, 0, 0)
    response = one_click(client, f"/u/{forged}", "urlencoded")
    assert response.status_code == 400
    other_key = type(runtime.tokens)("another-secret-key-0123456789")
    forged = other_key.sign(Purpose.UNSUBSCRIBE, reader, 0, 0)
    assert one_click(client, f"/u/{forged}", "multipart").status_code == 400
    assert set(statuses(runtime, reader).values()) == {"confirmed"}


def test_a_reader_who_is_gone_gets_a_plain_answer(client: TestClient, runtime: Runtime,
                                                  reader: int) -> None:
    from tidings.services import data_rights

    path = unsubscribe_path(runtime, reader)
    data_rights.erase(runtime.db, reader)
    assert client.get(path).status_code == 200
    assert one_click(client, path, "urlencoded").status_code == 200
