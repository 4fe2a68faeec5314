"""What a message is built from and what building produces.

:class:`Sender` holds the publisher-wide facts (addresses, branding, footer), taken
from the bootstrap settings and the runtime settings as plain values; :class:`Recipient`
is one reader; :class:`Outgoing` is one finished message with its SMTP envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tidings.domain.subscribers import Subscriber


class _Bootstrap(Protocol):
    """The two bootstrap values a :class:`Sender` needs (``config.Settings`` has them)."""

    @property
    def base_url(self) -> str: ...

    @property
    def mail_domain(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Sender:
    """The publisher-wide facts every message needs.

    ``mail_domain`` is the domain of Message-IDs, List-Ids and the VERP envelope
    sender (``bounces+TOKEN@mail_domain``); ``feedback_sender_id`` is the last field
    of ``Feedback-ID``.
    """

    base_url: str
    mail_domain: str
    publisher_name: str
    from_email: str
    from_name: str = ""
    postal_address: str = ""
    reply_to: str = ""
    feedback_sender_id: str = "tidings"
    website_url: str = ""
    logo_url: str = ""
    color_primary: str = "#1d4ed8"
    color_background: str = "#f4f4f5"

    @classmethod
    def from_settings(cls, settings: _Bootstrap, values: Mapping[str, Any]) -> Sender:
        """Build from bootstrap settings and the runtime settings (``runtime_settings.get_all``).

        Empty ``mail.from_name`` falls back to the publisher's name, empty
        ``mail.from_email`` to ``newsletter@<mail domain>``.
        """
        def text(name: str, default: str = "") -> str:
            value = values.get(name)
            return default if value is None else str(value)

        publisher = text("publisher.name", "Tidings") or "Tidings"
        return cls(
            base_url=settings.base_url.rstrip("/"),
            mail_domain=settings.mail_domain,
            publisher_name=publisher,
            from_email=text("mail.from_email") or f"newsletter@{settings.mail_domain}",
            from_name=text("mail.from_name") or publisher,
            postal_address=text("publisher.postal_address"),
            reply_to=text("mail.reply_to"),
            feedback_sender_id=text("mail.feedback_sender_id", "tidings") or "tidings",
            website_url=text("publisher.website_url"),
            logo_url=text("publisher.logo_url"),
            color_primary=text("publisher.color_primary", "#1d4ed8") or "#1d4ed8",
            color_background=text("publisher.color_background", "#f4f4f5") or "#f4f4f5",
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    """One reader as messages see them.

    ``list_ids`` are the lists the reader is confirmed on (at least those of the
    campaign being sent); a campaign message names the first of the campaign's lists
    found here in its List-Id and unsubscribe link.
    """

    subscriber_id: int
    uid: str
    email: str
    name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    list_ids: tuple[int, ...] = ()

    @classmethod
    def from_subscriber(cls, subscriber: Subscriber, list_ids: tuple[int, ...] = ()) -> Recipient:
        return cls(subscriber_id=subscriber.id, uid=subscriber.uid, email=subscriber.email,
                   name=subscriber.name, attributes=dict(subscriber.attributes),
                   list_ids=tuple(list_ids))

    @classmethod
    def for_address(cls, email: str) -> Recipient:
        """A reader known only by address (a test send to someone who is no subscriber)."""
        return cls(subscriber_id=0, uid="", email=email)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One finished message: hand ``data`` to SMTP with this envelope, unchanged.

    ``data`` is the complete RFC 5322 message with CRLF line ends, the last line
    ended too, DKIM-signed when a signer was given. No line starts with ``.``, so
    ``data`` is also SMTP ``DATA`` content as it is (nothing to dot-stuff). It is
    7-bit ASCII unless the recipient's address has a non-ASCII local part, in which
    case :attr:`smtputf8` is true and the relay must offer SMTPUTF8.
    """

    envelope_from: str
    recipient: str
    data: bytes
    message_id: str

    @property
    def smtputf8(self) -> bool:
        return not (self.recipient.isascii() and self.envelope_from.isascii())
