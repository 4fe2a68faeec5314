"""Builders shared by the mail tests: a publisher, lists, campaigns, readers, DKIM keys."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.lists import MailingList, OptIn, Visibility
from tidings.mail import dkim
from tidings.mail.context import Recipient, Sender
from tidings.mail.tokens import TokenSigner

NOW = datetime(2026, 11, 29, 8, 54, 14, tzinfo=UTC)
DOMAIN = "news.example.org"


def make_list(list_id: int = 1, slug: str = "weekly", name: str = "Example Weekly") -> MailingList:
    return MailingList(id=list_id, uid=f"list{list_id:012d}", slug=slug, name=name,
                       description=f"About {name}", visibility=Visibility.PUBLIC,
                       optin=OptIn.DOUBLE, created_at=NOW, updated_at=NOW)


def make_campaign(**changes: Any) -> Campaign:
    values: dict[str, Any] = {
        "id": 42, "uid": "CampaignUid00042", "name": "Weekly 48",
        "subject": "News for {{ subscriber.first_name }}",
        "body": "# Hello {{ subscriber.name }}\n\nThe news of the week, *in brief*.\n\n"
                "[Read on the web]({{ archive_url }})\n",
        "body_format": BodyFormat.MARKDOWN, "status": CampaignStatus.DRAFT,
        "created_at": NOW, "updated_at": NOW, "list_ids": (1,),
        "archive": True, "archive_slug": "weekly-48",
    }
    values.update(changes)
    return Campaign(**values)


def make_recipient(subscriber_id: int = 9187, **changes: Any) -> Recipient:
    values: dict[str, Any] = {
        "subscriber_id": subscriber_id, "uid": f"reader{subscriber_id:010d}",
        "email": f"reader{subscriber_id}@example.com", "name": "Ada Lovelace",
        "attributes": {"city": "London", "plan": "pro"}, "list_ids": (1,),
    }
    values.update(changes)
    return Recipient(**values)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def sender() -> Sender:
    return Sender(base_url=f"https://{DOMAIN}", mail_domain=DOMAIN,
                  publisher_name="Example News", from_email=f"news@{DOMAIN}",
                  from_name="Example News", postal_address="1 Harbour Street\nPortsmouth PO1 2AB",
                  feedback_sender_id="exnews01")


@pytest.fixture
def tokens() -> TokenSigner:
    return TokenSigner("test-secret-key-0123456789abcdef")


@pytest.fixture(scope="session")
def rsa_key() -> dkim.GeneratedKey:
    return dkim.generate_key(DOMAIN, "s2026")


@pytest.fixture(scope="session")
def ed25519_key() -> dkim.GeneratedKey:
    return dkim.generate_key(DOMAIN, "e2026", "ed25519-sha256")


@pytest.fixture(scope="session")
def dns(rsa_key: dkim.GeneratedKey,
        ed25519_key: dkim.GeneratedKey) -> Callable[..., bytes | None]:
    """A fake DNS for dkimpy: the TXT records of the session's keys."""
    records = {f"{k.dns_name}.".encode(): "".join(k.dns_strings).encode()
               for k in (rsa_key, ed25519_key)}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright drives Debian's Chromium; nothing is downloaded."""
    from tests.support.services import need_chromium

    return {**browser_type_launch_args, "executable_path": need_chromium()}


@pytest.fixture(scope="session")
def base_url() -> None:
    """Pages here are set from strings, not fetched (this also quiets pytest-playwright)."""
