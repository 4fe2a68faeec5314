"""The pieces: HTML to text, Markdown and sanitising, header encoding, quoted-printable."""

from __future__ import annotations

import email.header
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.campaigns import BodyFormat
from tidings.mail import content, headers, mime, text
from tidings.mail.dkim import relaxed_body


def test_text_keeps_words_links_lists_and_drops_head_style_and_hidden() -> None:
    html = ("<html><head><title>T</title><style>p{color:red}</style></head><body>"
            "<div style='display:none'>preheader</div><h1>Big &amp; bold</h1>"
            "<p>Read <a href='https://x.org/a'>the story</a> or <a href='#top'>top</a>.</p>"
            "<ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"
            "<blockquote><p>quoted</p></blockquote><p>line<br>break</p>"
            "<img src='x.png' alt='Logo'><script>alert(1)</script>"
            "<p><a href='mailto:a@b.org'>a@b.org</a> <a href='https://x.org'>https://x.org</a>"
            "</p></body></html>")
    out = text.from_html(html)
    assert "preheader" not in out and "color:red" not in out and "alert" not in out
    assert "T\n" not in out
    assert out.startswith("Big & bold\n\n")
    assert "Read the story (https://x.org/a) or top." in out
    assert "- one\n- two" in out and "1. first\n2. second" in out
    assert "> quoted" in out and "line\nbreak" in out and "[Logo]" in out
    assert "a@b.org https://x.org\n" in out
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_text_wraps_paragraphs_but_never_breaks_a_url() -> None:
    url = "https://example.org/" + "a" * 120
    out = text.from_html("<p>" + "word " * 60 + f"<a href='{url}'>link</a></p>")
    assert all(len(line) <= 76 or url in line for line in out.splitlines())
    assert url in out


@given(st.text(max_size=200))
def test_text_never_fails_on_any_markup(html: str) -> None:
    assert text.from_html(html).endswith("\n")


def test_markdown_keeps_template_tags_intact() -> None:
    source = ('# Hi {{ subscriber.attributes["first name"] }}\n\n'
              "{% if subscriber.attributes.plan == 'pro' %}\n\nPro *only*\n\n{% endif %}\n\n"
              "[Leave]({{ unsubscribe_url }}) {# a note #}")
    html = content.to_html(source, BodyFormat.MARKDOWN)
    assert '<h1>Hi {{ subscriber.attributes["first name"] }}</h1>' in html
    assert "{% if subscriber.attributes.plan == 'pro' %}\n<p>Pro <em>only</em></p>" in html
    assert "<p>{% if" not in html
    assert '<a href="{{ unsubscribe_url }}">Leave</a>' in html
    assert "{# a note #}" in html


def test_sanitising_drops_what_mail_and_the_web_archive_must_not_carry() -> None:
    source = ('<p style="color:red" onclick="x()">Hi</p><script>alert(1)</script>'
              '<style>p{}</style><iframe src="https://evil.example"></iframe>'
              '<a href="javascript:alert(1)">a</a><a href="https://ok.example">b</a>'
              '<form><input name="q"></form><table width="100%"><tr>'
              '<td bgcolor="#fff" align="center">cell</td></tr></table>'
              '<img src="https://x.org/i.png" alt="i" onerror="y()">')
    html = content.to_html(source, BodyFormat.HTML)
    for banned in ("script", "onclick", "onerror", "iframe", "javascript:", "<form", "<input",
                   "<style"):
        assert banned not in html
    for kept in ('style="color:red"', 'href="https://ok.example"', 'bgcolor="#fff"',
                 'align="center"', 'width="100%"', 'src="https://x.org/i.png"'):
        assert kept in html


def test_plain_text_bodies_become_escaped_paragraphs() -> None:
    html = content.to_html('1 < 2 & "x"\nnext line\n\nsecond {{ subscriber.attributes["a"] }}',
                           BodyFormat.TEXT)
    assert html == ('<p>1 &lt; 2 &amp; "x"<br>\nnext line</p>\n'
                    '<p>second {{ subscriber.attributes["a"] }}</p>')


@pytest.mark.parametrize("value", ["Hello", "Grüße 🎉", "a" * 300, "=?utf-8?q?hi?=",
                                   "x " * 100, "tab\there", "quote \" and \\ back"])
def test_header_text_round_trips_and_stays_within_limits(value: str) -> None:
    written = headers.text("Subject", value)
    assert written.isascii()
    lines = ("Subject: " + written).split("\r\n")
    assert all(len(line) <= 78 for line in lines) or max(map(len, lines)) <= 998
    assert all(line.startswith(" ") for line in lines[1:])
    assert headers.decode(written) == headers.clean(value).replace("\t", " ")


def test_header_phrases_quote_or_encode_as_needed() -> None:
    assert headers.phrase("Ada Lovelace") == "Ada Lovelace"
    assert headers.phrase("Lovelace, Ada") == '"Lovelace, Ada"'
    assert headers.phrase('Ada "The Countess"') == '"Ada \\"The Countess\\""'
    assert headers.phrase("Zoë") == "=?utf-8?q?Zo=C3=AB?="
    assert headers.address("", "a@example.org") == "a@example.org"
    assert headers.address("Zoë", "zoe@bücher.de") == "=?utf-8?q?Zo=C3=AB?= <zoe@xn--bcher-kva.de>"
    decoded = str(email.header.make_header(email.header.decode_header("=?utf-8?q?Zo=C3=AB?=")))
    assert decoded == "Zoë"


def test_date_is_utc_rfc5322() -> None:
    assert headers.date(0) == "Thu, 01 Jan 1970 00:00:00 +0000"


@given(st.text(alphabet=st.characters(max_codepoint=0x17f) | st.sampled_from(".\n"),
               max_size=300))
def test_quoted_printable_round_trips_in_short_crlf_lines(value: str) -> None:
    encoded = mime.qp(value)
    assert encoded.isascii()
    assert not encoded.startswith(b".") and b"\n." not in encoded  # DATA content as is
    assert not encoded or encoded.endswith(b"\r\n")
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert b"\n" not in encoded.replace(b"\r\n", b"")
    normalised = value.replace("\r\n", "\n").replace("\r", "\n")
    assert mime.decode_qp(encoded) == normalised


def test_body_template_fills_slots_and_hashes_like_the_whole_body() -> None:
    marker = "\ue0000\ue001"
    body = mime.BodyTemplate("=_b", f"Hi {marker}!\n", f"<p>Hi {marker}!</p>\n<p>  x  </p>")
    filled = body.fill({0: "Ada  & co"}, {0: "Ada  &amp; co"}, body_hash=True)
    assert b"=_b" in filled.data and "=_" not in mime.decode_qp(filled.data.split(b"\r\n\r\n")[1])
    assert filled.body_hash == hashlib.sha256(relaxed_body(filled.data)).digest()
    text_part, html_part = body.decoded({0: "Ada  & co"}, {0: "Ada  &amp; co"})
    assert text_part == "Hi Ada  & co!\r\n"
    assert html_part == "<p>Hi Ada  &amp; co!</p>\r\n<p>  x  </p>"
    assert re.search(rb"--=_b--\r\n$", filled.data)


@given(st.text(max_size=400), st.sampled_from(["Subject", "X"]))
def test_encoded_words_round_trip_any_text_within_75_characters(value: str, name: str) -> None:
    written = headers.text(name, "é" + value)
    words = written.split("\r\n ")
    assert all(len(word) <= 75 for word in words if word.startswith("=?"))
    assert written.isascii()
    assert headers.decode(written) == headers.clean("é" + value)
    phrase = headers.phrase("ü" + value)
    assert headers.decode(phrase) == headers.clean("ü" + value)


@pytest.mark.parametrize("value", [
    # binascii alone makes a 77-character line of this:
    "xxxxx\n\t=.xxxxxxxxxx.\téé=xxxxx\t \t   é\txxxxxé xxxxxé.a \n\n=\né=xxxxx=\n=.xxxxx",
    "x" * 76,  # 76 characters and then the soft break
    "." + "x" * 74 + ".x.",  # dots that start lines once escaped and wrapped
    "x" * 75 + "." * 80,
])
def test_quoted_printable_lines_never_exceed_76(value: str) -> None:
    encoded = mime.qp(value)
    assert max(map(len, encoded.split(b"\r\n"))) <= 76
    assert not any(line.startswith(b".") for line in encoded.split(b"\r\n"))
    assert mime.decode_qp(encoded) == value
