"""Fixtures for the reader-facing pages: lists, signed form times, and helpers."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tidings.bootstrap import Runtime
from tidings.db import tables
from tidings.domain.lists import MailingList, OptIn, Visibility
from tidings.mail import links
from tidings.mail.tokens import Purpose
from tidings.services import lists, runtime_settings, signups


@dataclass(frozen=True)
class Lists:
    daily: MailingList    # public, double opt-in
    weekly: MailingList   # public, single opt-in
    vip: MailingList      # private, single opt-in


@pytest.fixture
def readers_lists(runtime: Runtime) -> Lists:
    db = runtime.db
    return Lists(
        daily=lists.create(db, slug="daily", name="The Daily Brief",
                           description="Every morning at seven."),
        weekly=lists.create(db, slug="weekly", name="Weekly Review", optin=OptIn.SINGLE),
        vip=lists.create(db, slug="vip", name="Insiders", visibility=Visibility.PRIVATE,
                         optin=OptIn.SINGLE),
    )


def form_token(runtime: Runtime, age: float = 10.0) -> str:
    """A signed render time ``age`` seconds in the past."""
    return runtime.tokens.sign(Purpose.SIGNUP_FORM, int(time.time() - age))


def signup_form(runtime: Runtime, email: str, *list_refs: str, **extra: Any) -> dict[str, Any]:
    """The fields a person would send from the hosted form."""
    text_ = signups.current_consent_text(runtime.db)
    return {"email": email, "lists": list(list_refs), "ts": form_token(runtime),
            "consent_hash": signups.remember_consent_text(runtime.db, text_), **extra}


def post_signup(client: TestClient, runtime: Runtime, email: str, *list_refs: str,
                **extra: Any) -> Any:
    return client.post("/subscribe", data=signup_form(runtime, email, *list_refs, **extra),
                       follow_redirects=False)


def count(runtime: Runtime, table: str, where: str = "1=1") -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def subscription_status(runtime: Runtime, email: str, list_id: int) -> str | None:
    with runtime.db.read() as conn:
        return conn.execute(
            select(tables.subscriptions.c.status)
            .join(tables.subscribers,
                  tables.subscribers.c.id == tables.subscriptions.c.subscriber_id)
            .where(func.lower(tables.subscribers.c.email) == email.lower(),
                   tables.subscriptions.c.list_id == list_id)).scalar()


def subscriber_id(runtime: Runtime, email: str) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(tables.subscribers.c.id).where(
            func.lower(tables.subscribers.c.email) == email.lower())).scalar_one())


def confirmation_link(runtime: Runtime, email: str) -> str:
    """The path of the confirmation link the outbox message for ``email`` will carry."""
    with runtime.db.read() as conn:
        row = conn.execute(select(tables.outbox).where(
            tables.outbox.c.kind == "confirmation",
            func.lower(tables.outbox.c.to_email) == email.lower())
            .order_by(tables.outbox.c.id.desc())).first()
    assert row is not None, f"no confirmation queued for {email}"
    return links.confirm_url("", runtime.tokens, row.subscriber_id, row.payload["consent_id"])


def unsubscribe_path(runtime: Runtime, sid: int, list_id: int = 0, campaign_id: int = 0) -> str:
    return "/u/" + links.unsubscribe_token(runtime.tokens, sid, list_id, campaign_id)


def preferences_path(runtime: Runtime, sid: int) -> str:
    return links.preferences_url("", runtime.tokens, sid)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no field {name}"
    return found.group(1)


def set_settings(runtime: Runtime, **values: Any) -> None:
    runtime_settings.update(runtime.db, values)
