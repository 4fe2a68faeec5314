"""DKIM signatures verify with dkimpy and break when a signed header is changed or added."""

from __future__ import annotations

import base64
import pickle
import re
import smtplib
from collections.abc import Callable

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.mail.conftest import DOMAIN, make_campaign, make_list, make_recipient
from tests.support.smtp_sink import SmtpSink
from tidings.domain import settings as runtime
from tidings.domain.errors import ValidationError
from tidings.mail import dkim, system
from tidings.mail.campaign import compile_campaign
from tidings.mail.context import Sender
from tidings.mail.tokens import TokenSigner

Dns = Callable[..., bytes | None]
REQUIRED = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
            "list-id", "list-unsubscribe", "list-unsubscribe-post", "feedback-id", "reply-to"}


def verifies(raw: bytes, dns: Dns, index: int = 0) -> bool:
    try:
        return bool(dkimpy.DKIM(raw).verify(idx=index, dnsfunc=dns))
    except dkimpy.DKIMException:
        return False


def signed_campaign(sender: Sender, tokens: TokenSigner, signer: dkim.DkimSigner) -> bytes:
    campaign = make_campaign(reply_to="letters@example.org")
    compiled = compile_campaign(campaign, [make_list()], layout=None, sender=sender,
                                tokens=tokens, dkim=signer)
    return compiled.render(make_recipient()).data


def signature_tags(raw: bytes, index: int = 0) -> dict[str, str]:
    headers = raw.partition(b"\r\n\r\n")[0].decode()
    values = re.findall(r"^DKIM-Signature:(.*?)(?=\r\n\S)", headers, re.M | re.S)
    unfolded = re.sub(r"\s+", "", values[index])
    return dict(tag.split("=", 1) for tag in unfolded.split(";") if tag)


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_signature_verifies_and_covers_the_required_headers(
        sender: Sender, tokens: TokenSigner, dns: Dns, algorithm: str,
        rsa_key: dkim.GeneratedKey, ed25519_key: dkim.GeneratedKey) -> None:
    key = rsa_key if algorithm == "rsa" else ed25519_key
    raw = signed_campaign(sender, tokens, dkim.DkimSigner(key.key))
    assert verifies(raw, dns, 0)
    tags = signature_tags(raw)
    assert tags["a"] == key.key.algorithm.value
    assert tags["c"] == "relaxed/relaxed"
    assert "l" not in tags
    assert tags["d"] == DOMAIN
    names = tags["h"].split(":")
    assert set(names) >= REQUIRED
    for name in ("from", "subject", "date", "to", "list-unsubscribe", "list-unsubscribe-post"):
        assert names.count(name) == 2, name
    assert raw.isascii()


def test_dual_signature_rsa_first_then_ed25519_both_verify(
        sender: Sender, tokens: TokenSigner, dns: Dns, rsa_key: dkim.GeneratedKey,
        ed25519_key: dkim.GeneratedKey) -> None:
    signer = dkim.signer_for(f"news@{DOMAIN}", [ed25519_key.key, rsa_key.key])
    assert signer is not None
    raw = signed_campaign(sender, tokens, signer)
    assert signature_tags(raw, 0)["a"] == "rsa-sha256"
    assert signature_tags(raw, 1)["a"] == "ed25519-sha256"
    assert verifies(raw, dns, 0)
    assert verifies(raw, dns, 1)


@pytest.mark.parametrize("tamper", [
    lambda raw: raw.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click"),
    lambda raw: raw.replace(b"\r\nTo: ", b"\r\nFrom: Evil <evil@example.net>\r\nTo: ", 1),
    lambda raw: raw.replace(b"\r\nTo: ", b"\r\nList-Unsubscribe-Post: x\r\nTo: ", 1),
    lambda raw: raw.replace(b"\r\nTo: ", b"\r\nSubject: Win a prize\r\nTo: ", 1),
    lambda raw: raw.replace(b"Feedback-ID: c42", b"Feedback-ID: c43"),
    lambda raw: raw.replace(b"Hello", b"Jello", 1),
    lambda raw: raw[:-40] + b"Appended text\r\n" + raw[-40:],
], ids=["two-click", "second-from", "second-post", "second-subject", "feedback-id", "body",
        "appended"])
def test_tampering_breaks_both_signatures(sender: Sender, tokens: TokenSigner, dns: Dns,
                                          rsa_key: dkim.GeneratedKey,
                                          ed25519_key: dkim.GeneratedKey,
                                          tamper: Callable[[bytes], bytes]) -> None:
    raw = signed_campaign(sender, tokens, dkim.DkimSigner(rsa_key.key, ed25519_key.key))
    changed = tamper(raw)
    assert changed != raw
    assert not verifies(changed, dns, 0)
    assert not verifies(changed, dns, 1)


def test_relaxed_canonicalisation_survives_refolding(sender: Sender, tokens: TokenSigner,
                                                     dns: Dns,
                                                     rsa_key: dkim.GeneratedKey) -> None:
    raw = signed_campaign(sender, tokens, dkim.DkimSigner(rsa_key.key))
    refolded = raw.replace(b"List-Unsubscribe: <", b"List-Unsubscribe:\r\n    <", 1)
    assert refolded != raw
    assert verifies(refolded, dns, 0)


def test_dkimpy_default_header_list_would_miss_one_click(rsa_key: dkim.GeneratedKey) -> None:
    """Why the header list is explicit: dkimpy's default leaves these out."""
    message = (b"From: a@news.example.org\r\nTo: b@example.com\r\nSubject: s\r\n"
               b"List-Unsubscribe: <https://x/u/t>\r\n"
               b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFeedback-ID: a:b:c:d12345\r\n"
               b"\r\nbody\r\n")
    signature = dkimpy.sign(message, b"s2026", DOMAIN.encode(), rsa_key.key.private_key.encode())
    h = re.search(rb"h=([^;]+);", signature.replace(b"\r\n ", b""))
    assert h is not None
    assert b"list-unsubscribe-post" not in h.group(1)
    ours = dkim.DkimSigner(rsa_key.key).sign(message)
    assert b"list-unsubscribe-post" in ours.replace(b"\r\n ", b"")


@pytest.mark.parametrize("kind", ["confirmation", "welcome", "password_reset"])
def test_system_messages_are_signed(sender: Sender, tokens: TokenSigner, dns: Dns,
                                    rsa_key: dkim.GeneratedKey, kind: str) -> None:
    reader = make_recipient()
    outgoing = system.build(kind, {"consent_id": 1, "list_ids": [1], "list_id": 1,
                                   "user_id": 1},
                            to_email=reader.email, recipient=reader, lists=[make_list()],
                            link=f"https://{DOMAIN}/admin/reset/x", sender=sender,
                            tokens=tokens, dkim=dkim.DkimSigner(rsa_key.key))
    assert verifies(outgoing.data, dns, 0)


def test_generic_sign_verifies_on_a_foreign_message(dns: Dns,
                                                    ed25519_key: dkim.GeneratedKey) -> None:
    message = (b"From: Someone <a@news.example.org>\r\nTo: b@example.com\r\n"
               b"Subject: folded\r\n  subject\r\nDate: Sun, 29 Nov 2026 08:54:14 +0000\r\n"
               b"\r\nline  with   spaces \r\n\r\n\r\n")
    signed = dkim.DkimSigner(ed25519_key.key).sign(message)
    assert signed.endswith(message)
    assert verifies(signed, dns, 0)


def test_generated_keys_and_their_dns_records(rsa_key: dkim.GeneratedKey,
                                              ed25519_key: dkim.GeneratedKey) -> None:
    private = dkim.load_private_key(rsa_key.key)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048
    assert rsa_key.dns_name == f"s2026._domainkey.{DOMAIN}"
    assert rsa_key.dns_record.startswith("v=DKIM1; k=rsa; p=")
    assert len(rsa_key.dns_strings) == 2
    assert all(len(s) <= 255 for s in rsa_key.dns_strings)
    assert "".join(rsa_key.dns_strings) == rsa_key.dns_record
    assert rsa_key.zone_line.count('"') == 4
    raw = base64.b64decode(ed25519_key.dns_record.split("p=")[1])
    assert len(raw) == 32  # the raw public key, not SPKI DER (RFC 8463)
    assert len(base64.b64decode(ed25519_key.key.private_key)) == 32


def test_keys_from_the_setting(rsa_key: dkim.GeneratedKey,
                               ed25519_key: dkim.GeneratedKey) -> None:
    value = runtime.validate("dkim.keys", [rsa_key.setting, ed25519_key.setting])
    keys = dkim.keys_from_setting(value)
    assert [k.algorithm for k in keys] == [dkim.Algorithm.RSA_SHA256,
                                           dkim.Algorithm.ED25519_SHA256]
    assert "PRIVATE" not in repr(keys)
    assert runtime.BY_NAME["dkim.keys"].secret
    assert dkim.keys_from_setting(runtime.BY_NAME["dkim.keys"].default) == ()


@pytest.mark.parametrize("entry, message", [
    ({"domain": "x"}, "domain, selector, algorithm"),
    ({"domain": "news.example.org", "selector": "s", "algorithm": "rsa-sha1",
      "private_key": "k"}, "rsa-sha256 or ed25519-sha256"),
    ({"domain": "not a domain", "selector": "s", "algorithm": "ed25519-sha256",
      "private_key": "k"}, "not a domain name"),
    ({"domain": "news.example.org", "selector": "s_1", "algorithm": "ed25519-sha256",
      "private_key": "k"}, "not a DKIM selector"),
    ({"domain": "news.example.org", "selector": "s", "algorithm": "rsa-sha256",
      "private_key": "abc"}, "PEM"),
])
def test_the_setting_refuses_malformed_keys(entry: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        runtime.validate("dkim.keys", [entry])


def test_unusable_keys_are_refused_with_a_reason() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    pem = small.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    with pytest.raises(ValidationError, match="at least 2048 bits"):
        dkim.keys_from_setting([{"domain": DOMAIN, "selector": "s", "algorithm": "rsa-sha256",
                                 "private_key": pem}])
    with pytest.raises(ValidationError, match="cannot be read"):
        dkim.keys_from_setting([{"domain": DOMAIN, "selector": "s",
                                 "algorithm": "ed25519-sha256", "private_key": "c2hvcnQ="}])
    with pytest.raises(ValidationError, match="needs an Ed25519 key"):
        dkim.keys_from_setting([{"domain": DOMAIN, "selector": "s",
                                 "algorithm": "ed25519-sha256", "private_key": pem}])


def test_signer_for_picks_the_from_domain_or_its_closest_parent(
        rsa_key: dkim.GeneratedKey, ed25519_key: dkim.GeneratedKey) -> None:
    parent = dkim.generate_key("example.org", "p1", "ed25519-sha256").key
    other = dkim.generate_key("example.net", "o1", "ed25519-sha256").key
    keys = [other, parent, rsa_key.key, ed25519_key.key]
    exact = dkim.signer_for(f"news@{DOMAIN}", keys)
    assert exact is not None and exact.keys == (rsa_key.key, ed25519_key.key)
    deeper = dkim.signer_for("x@mail.news.example.org", keys)
    assert deeper is not None and deeper.domain == DOMAIN
    sibling = dkim.signer_for("x@shop.example.org", keys)
    assert sibling is not None and sibling.keys == (parent,)
    assert dkim.signer_for("x@example.com", keys) is None
    assert dkim.signer_for("x@badexample.org", [parent]) is None


def test_signer_pickles(rsa_key: dkim.GeneratedKey, dns: Dns) -> None:
    signer = pickle.loads(pickle.dumps(dkim.DkimSigner(rsa_key.key)))  # noqa: S301
    signed = signer.sign(b"From: a@news.example.org\r\nSubject: x\r\n\r\nbody\r\n")
    assert verifies(signed, dns, 0)


def test_signature_verifies_on_the_bytes_an_smtp_server_receives(
        sender: Sender, tokens: TokenSigner, dns: Dns, rsa_key: dkim.GeneratedKey,
        ed25519_key: dkim.GeneratedKey, smtp_sink: SmtpSink) -> None:
    body = "Lines that SMTP must dot-stuff:\n\n.\n\n..two\n\n" + "Words. " * 300
    campaign = make_campaign(body=body)
    compiled = compile_campaign(campaign, [make_list()], layout=None, sender=sender,
                                tokens=tokens, dkim=dkim.DkimSigner(rsa_key.key, ed25519_key.key))
    outgoing = compiled.render(make_recipient())
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.sendmail(outgoing.envelope_from, [outgoing.recipient], outgoing.data)
    received = smtp_sink.wait_for(1)[0].data
    assert verifies(received, dns, 0) and verifies(received, dns, 1)
