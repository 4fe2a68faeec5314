"""The sender is built from the bootstrap and runtime settings."""

from __future__ import annotations

from pathlib import Path

from tidings import config
from tidings.domain import settings as runtime
from tidings.mail.context import Outgoing, Recipient, Sender


def test_sender_from_settings_falls_back_to_the_publisher_and_host(tmp_path: Path) -> None:
    settings = config.load(environ={}, data_dir=tmp_path, secret_key="s" * 32,
                           base_url="https://news.example.org/")
    defaults = {s.name: s.default for s in runtime.REGISTRY}
    sender = Sender.from_settings(settings, {**defaults, "publisher.name": "Harbour News",
                                             "publisher.postal_address": "1 Quay\nPortsmouth"})
    assert sender.base_url == "https://news.example.org"
    assert sender.mail_domain == "news.example.org"
    assert sender.from_email == "newsletter@news.example.org"
    assert sender.from_name == "Harbour News"
    assert sender.postal_address == "1 Quay\nPortsmouth"
    assert sender.feedback_sender_id == "tidings"
    assert sender.color_primary == "#1d4ed8"
    chosen = Sender.from_settings(settings, {**defaults, "mail.from_name": "Editors",
                                             "mail.from_email": "ed@example.org",
                                             "mail.reply_to": "letters@example.org"})
    assert (chosen.from_name, chosen.from_email, chosen.reply_to) == (
        "Editors", "ed@example.org", "letters@example.org")


def test_outgoing_needs_smtputf8_only_for_a_non_ascii_address() -> None:
    assert not Outgoing("b@x.org", "a@x.org", b"", "<m@x>").smtputf8
    assert Outgoing("b@x.org", "jösé@x.org", b"", "<m@x>").smtputf8


def test_recipient_for_an_address_alone() -> None:
    reader = Recipient.for_address("a@example.org")
    assert (reader.subscriber_id, reader.email, reader.name, reader.list_ids) == (
        0, "a@example.org", "", ())
