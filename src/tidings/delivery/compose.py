"""Building messages with :mod:`tidings.mail` from what the database holds.

:func:`composer` compiles a campaign once per run (publisher settings, lists,
layout, the DKIM signer of its From domain); the renderer it returns turns a
ledger :class:`~tidings.db.deliveries.Reader` into a finished message.
:func:`system_builder` does the same for one transactional outbox row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tidings.db import campaigns as db_campaigns
from tidings.db import mailing
from tidings.db import subscribers as db_subscribers
from tidings.db.database import Database
from tidings.db.deliveries import Reader
from tidings.delivery.engine import Composer, SystemBuilder
from tidings.domain.campaigns import Campaign
from tidings.mail import dkim, links, system
from tidings.mail.campaign import CompiledCampaign, compile_campaign
from tidings.mail.context import Outgoing, Recipient, Sender
from tidings.mail.tokens import TokenSigner
from tidings.services import runtime_settings


class _Bootstrap:
    """The two bootstrap values :class:`Sender` needs."""

    def __init__(self, base_url: str, mail_domain: str) -> None:
        self.base_url = base_url
        self.mail_domain = mail_domain


@dataclass(frozen=True)
class MailRenderer:
    """A compiled campaign, rendering ledger readers."""

    compiled: CompiledCampaign

    def render(self, reader: Reader) -> Outgoing:
        return self.compiled.render(Recipient(
            subscriber_id=reader.id, uid=reader.uid, email=reader.email, name=reader.name,
            attributes=reader.attributes, list_ids=reader.list_ids))


def _sender_and_keys(db: Database, base_url: str, mail_domain: str
                     ) -> tuple[Sender, tuple[dkim.DkimKey, ...]]:
    values: Mapping[str, Any] = runtime_settings.get_all(db)
    sender = Sender.from_settings(_Bootstrap(base_url, mail_domain), values)
    return sender, dkim.keys_from_setting(values.get("dkim.keys"))


def composer(base_url: str, mail_domain: str, tokens: TokenSigner) -> Composer:
    def compose(db: Database, campaign: Campaign) -> MailRenderer:
        sender, keys = _sender_and_keys(db, base_url, mail_domain)
        with db.read() as conn:
            lists = mailing.lists_in_order(conn, campaign.list_ids)
            layout = mailing.layout(conn, campaign.template_id)
        signer = dkim.signer_for(campaign.from_email or sender.from_email, keys)
        return MailRenderer(compile_campaign(campaign, lists, layout=layout, sender=sender,
                                             tokens=tokens, dkim=signer))
    return compose


def system_builder(base_url: str, mail_domain: str, tokens: TokenSigner) -> SystemBuilder:
    def build(db: Database, kind: str, to_email: str, payload: dict[str, Any]) -> Outgoing:
        sender, keys = _sender_and_keys(db, base_url, mail_domain)
        options: dict[str, Any] = {}
        with db.read() as conn:
            subscriber = db_subscribers.get_by_email(conn, to_email)
            if subscriber is not None:
                options["recipient"] = Recipient.from_subscriber(subscriber)
            if kind == "confirmation":
                options["lists"] = mailing.lists_in_order(
                    conn, [int(i) for i in payload.get("list_ids", [])])
            elif kind == "welcome":
                list_id = int(payload["list_id"])
                options["lists"] = mailing.lists_in_order(conn, [list_id])
                options["welcome_subject"], options["welcome_body"] = \
                    mailing.welcome_texts(conn, list_id)
            elif kind == "test":
                campaign = db_campaigns.get(conn, int(payload["campaign_id"]))
                if campaign is None:
                    raise LookupError("the campaign was deleted")
                options.update(campaign=campaign,
                               lists=mailing.lists_in_order(conn, campaign.list_ids),
                               layout=mailing.layout(conn, campaign.template_id))
            elif kind == "password_reset":
                user = mailing.user_for_reset(conn, int(payload["user_id"]))
                if user is None:
                    raise LookupError("the user was deleted")
                options["name"] = user[0]
                options["link"] = links.password_reset_url(base_url, tokens,
                                                           int(payload["user_id"]), user[1])
        if kind in ("confirmation", "welcome") and "recipient" not in options:
            raise LookupError("the subscriber was deleted")
        from_email = options["campaign"].from_email if kind == "test" else ""
        signer = dkim.signer_for(from_email or sender.from_email, keys)
        return system.build(kind, payload, to_email=to_email, sender=sender, tokens=tokens,
                            dkim=signer, **options)
    return build
