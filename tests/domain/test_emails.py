from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain import emails
from tidings.domain.errors import InvalidEmail


@pytest.mark.parametrize(("raw", "normalized"), [
    ("John.Smith@Example.COM", "John.Smith@example.com"),
    ("  reader@example.org ", "reader@example.org"),
    ("o'brien+news@sub.example.co.uk", "o'brien+news@sub.example.co.uk"),
    ("User@Bücher.DE", "User@bücher.de"),
    ("a+b@xn--bcher-kva.de", "a+b@bücher.de"),
    ("jösé@example.com", "jösé@example.com"),
])
def test_valid_addresses_are_normalised(raw: str, normalized: str) -> None:
    assert emails.normalize(raw) == normalized


@pytest.mark.parametrize("raw", [
    "", "   ", "plain", "a@b", "a@@example.com", "a..b@example.com", ".a@example.com",
    "a@example.test", "a@localhost", "a@-example.com", "a@example.123",
    "x@example.com\r\nBcc: victim@example.org", "x@example.com\nBcc: y@example.org",
    "x\x00@example.com", "x@exam\tple.com", '"quoted"@example.com', "a@[127.0.0.1]",
    "a" * 65 + "@example.com", "a@" + "b" * 64 + ".com", "x@example.com\u2028",
])
def test_invalid_addresses_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidEmail) as caught:
        emails.normalize(raw)
    assert caught.value.message
    assert caught.value.field == "email"


def test_casefold_key_ignores_case() -> None:
    assert emails.casefold_key("Ann@Example.com") == emails.casefold_key("ann@example.COM")


_local = st.text(alphabet="abcXYZ019_.+-'%!#=~", min_size=1, max_size=70)
_domain = st.lists(st.text(alphabet="abcXYZ019-", min_size=1, max_size=12), min_size=1,
                   max_size=4).map(".".join)
_tld = st.sampled_from(["com", "ORG", "de", "c0m", "x", "test", "local", "io", "museum", "1a"])


@settings(max_examples=2000, deadline=None)
@given(_local, _domain, _tld)
def test_fast_path_agrees_with_email_validator(local: str, domain: str, tld: str) -> None:
    raw = f"{local}@{domain}.{tld}"
    try:
        expected: str | None = validate_email(raw, check_deliverability=False,
                                              strict=True).normalized
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = emails.normalize(raw)
    except InvalidEmail:
        got = None
    assert got == expected
