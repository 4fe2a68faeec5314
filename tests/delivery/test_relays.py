"""Parsing TIDINGS_SMTP_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings import config
from tidings.delivery import relays, setup
from tidings.delivery.capture import CaptureTransport
from tidings.delivery.pool import SmtpTransport
from tidings.domain.errors import ConfigurationError


def test_every_part_of_a_relay_url_is_read() -> None:
    relay = relays.parse("smtp://mailer%40x:p%3Ass@smtp.example.org?pool=8&rate=50"
                         "&per_minute=1000&per_hour=20000&helo=mta1.example.org")
    assert (relay.host, relay.port, relay.username, relay.password) == (
        "smtp.example.org", 587, "mailer@x", "p:ss")
    assert (relay.pool, relay.rate, relay.per_minute, relay.per_hour) == (8, 50, 1000, 20000)
    assert relay.starttls and not relay.implicit_tls and relay.helo == "mta1.example.org"
    assert relays.parse("smtps://h").port == 465 and relays.parse("smtps://h").implicit_tls
    plain = relays.parse("smtp+plain://127.0.0.1")
    assert plain.port == 25 and plain.ssl_context() is None
    assert "p:ss" not in relay.name


@pytest.mark.parametrize(("url", "message"), [
    ("http://h", "is not smtp://"),
    ("smtp://", "has no host"),
    ("smtp://h?pool=0", "pool"),
    ("smtp://h?pool=2.5", "pool"),
    ("smtp://h?rate=fast", "not a number"),
    ("smtp://h?rate=-1", "0 or more"),
    ("smtp://h?colour=red", "unknown parameter"),
    ("smtp://h:99999", "port"),
    ("smtp+plain://u:p@mail.example.org", "without TLS"),
    ("smtp://h?cafile=/nonexistent.pem", "not a file"),
])
def test_bad_relay_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        relays.parse(url)


def test_settings_choose_capture_or_relays_and_the_overall_rate(tmp_path: Path) -> None:
    base = {"environ": {}, "data_dir": tmp_path, "secret_key": "k" * 20}
    capture = config.load(**base)
    assert isinstance(setup.transport_for(capture), CaptureTransport)
    assert setup.max_rate(capture) is None
    two = config.load(**base, smtp_url="smtp+plain://a?rate=10 smtp+plain://b?per_minute=600",
                      global_rate=15)
    assert isinstance(setup.transport_for(two), SmtpTransport)
    assert setup.max_rate(two) == 15.0
    unlimited = config.load(**base, smtp_url="smtp+plain://a, smtp+plain://b?rate=5")
    assert setup.max_rate(unlimited) is None
