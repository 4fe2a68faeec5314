"""DMARC relaxed alignment between the From, DKIM and envelope domains."""

from __future__ import annotations

import pytest

from tests.mail.conftest import DOMAIN, make_campaign, make_list, make_recipient
from tidings.mail import dkim, dmarc
from tidings.mail.campaign import compile_campaign
from tidings.mail.context import Sender
from tidings.mail.tokens import TokenSigner


@pytest.mark.parametrize("from_domain, dkim_domain, mailfrom_domain, expected", [
    ("news.example.org", "news.example.org", "bounce.news.example.org", True),
    ("example.org", "esp.example.net", "esp.example.net", False),
    ("example.org", "esp.example.net", "mail.example.org", True),
    ("news.example.co.uk", "example.co.uk", None, True),
    ("news.example.co.uk", "other.co.uk", None, False),
    ("News.Example.ORG.", "example.org", None, True),
    ("example.org", None, None, False),
])
def test_aligned(from_domain: str, dkim_domain: str | None, mailfrom_domain: str | None,
                 expected: bool) -> None:
    assert dmarc.aligned(from_domain, dkim_domain, mailfrom_domain) is expected


def test_campaign_messages_align_with_their_signer_and_envelope(
        sender: Sender, tokens: TokenSigner, rsa_key: dkim.GeneratedKey) -> None:
    signer = dkim.signer_for(sender.from_email, [rsa_key.key])
    assert signer is not None
    compiled = compile_campaign(make_campaign(), [make_list()], layout=None, sender=sender,
                                tokens=tokens, dkim=signer)
    outgoing = compiled.render(make_recipient())
    from_domain = sender.from_email.rpartition("@")[2]
    envelope_domain = outgoing.envelope_from.rpartition("@")[2]
    assert envelope_domain == DOMAIN
    assert dmarc.aligned(from_domain, signer.domain, envelope_domain)
