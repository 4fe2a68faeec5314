"""A campaign message follows RFC 5322/2045-2047, RFC 2369/2919/8058 and Gmail's rules."""

from __future__ import annotations

import pickle
import re
import smtplib
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mail.conftest import DOMAIN, make_campaign, make_list, make_recipient, parse
from tests.support.smtp_sink import SmtpSink
from tidings.domain.campaigns import BodyFormat
from tidings.domain.errors import TokenInvalid, ValidationError
from tidings.mail import links
from tidings.mail.campaign import compile_campaign
from tidings.mail.context import Recipient, Sender
from tidings.mail.tokens import Purpose, TokenSigner

WEEKLY = make_list(1, "weekly", "Example Weekly")
DAILY = make_list(2, "daily", "Example Daily")


def render(sender: Sender, tokens: TokenSigner, recipient: Recipient | None = None,
           **changes: object) -> bytes:
    campaign = make_campaign(**changes)
    compiled = compile_campaign(campaign, [WEEKLY], layout=None, sender=sender, tokens=tokens,
                                dkim=None)
    return compiled.render(recipient or make_recipient()).data


def test_structure_text_first_html_last_utf8_quoted_printable(sender: Sender,
                                                              tokens: TokenSigner) -> None:
    message = parse(render(sender, tokens))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"


def test_raw_bytes_are_7bit_crlf_and_short_lined(sender: Sender, tokens: TokenSigner) -> None:
    raw = render(sender, tokens, make_recipient(name="Jörg Müller-Lüdenscheidt"),
                 subject="Grüße, {{ subscriber.name }} — " + "ä" * 300,
                 body="Ünïcödé " * 400 + "\n\n" + "x" * 2000)
    assert raw.isascii()
    assert max(map(len, raw.split(b"\r\n"))) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    body = raw.partition(b"\r\n\r\n")[2]
    assert max(map(len, body.split(b"\r\n"))) <= 76


def test_no_line_starts_with_a_dot_so_the_message_is_smtp_data_as_is(
        sender: Sender, tokens: TokenSigner) -> None:
    raw = render(sender, tokens, make_recipient(name=".Dot"),
                 subject=".{{ subscriber.name }}", body_format=BodyFormat.HTML,
                 body="<p>.{{ subscriber.name }}</p>\n<pre>\n.\n..\n.x</pre>" + "x." * 200)
    assert not raw.startswith(b".") and b"\n." not in raw
    html = parse(raw).get_body(("html",))
    assert b"\n=2E" in raw  # the dots are there, escaped
    assert html is not None and ">..Dot</p>" in html.get_content()


def test_required_headers_appear_once(sender: Sender, tokens: TokenSigner) -> None:
    message = parse(render(sender, tokens))
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id",
                 "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID", "Precedence"):
        assert len(message.get_all(name) or []) == 1, name
    assert message["MIME-Version"] == "1.0"
    assert message["Precedence"] == "bulk"
    assert message["From"] == f"Example News <news@{DOMAIN}>"
    assert message["To"] == "Ada Lovelace <reader9187@example.com>"
    assert message["Subject"] == "News for Ada"
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message["Reply-To"] is None


def test_message_id_is_stable_per_campaign_and_reader_and_unique_otherwise(
        sender: Sender, tokens: TokenSigner) -> None:
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    ids = {compiled.render(make_recipient(i)).message_id for i in range(1, 10_001)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"<[^@\s]+@news\.example\.org>", i) for i in ids)
    first = compiled.render(make_recipient(7))
    assert first.message_id == compiled.render(make_recipient(7)).message_id
    assert parse(first.data)["Message-ID"] == first.message_id
    other = compile_campaign(make_campaign(id=43, uid="CampaignUid00043"), [WEEKLY],
                             layout=None, sender=sender, tokens=tokens, dkim=None)
    assert other.render(make_recipient(7)).message_id != first.message_id


def test_non_ascii_subject_round_trips_and_raw_header_is_ascii(sender: Sender,
                                                              tokens: TokenSigner) -> None:
    raw = render(sender, tokens, subject="Grüße aus Köln, {{ subscriber.first_name }} 🎉")
    assert parse(raw)["Subject"] == "Grüße aus Köln, Ada 🎉"
    head = raw.partition(b"\r\n\r\n")[0]
    assert head.isascii()
    assert b"=?utf-8?q?" in head


def test_long_ascii_subject_is_folded_and_unfolds_to_the_same_text(sender: Sender,
                                                                   tokens: TokenSigner) -> None:
    subject = " ".join(f"word{i}" for i in range(60))
    raw = render(sender, tokens, subject=subject)
    assert parse(raw)["Subject"] == subject
    head = raw.partition(b"\r\n\r\n")[0]
    assert max(map(len, head.split(b"\r\n"))) <= 998


def test_list_unsubscribe_is_one_click_https_then_mailto_in_raw_bytes(
        sender: Sender, tokens: TokenSigner) -> None:
    raw = render(sender, tokens)
    message = parse(raw)
    uris = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert len(uris) == 2
    assert urlsplit(uris[0]).scheme == "https"
    assert uris[1].startswith("mailto:unsubscribe+")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.search(rb"\r\nList-Unsubscribe:\s*<https://", raw)
    header = re.search(rb"\r\nList-Unsubscribe:(.*?)\r\n(?! )", raw, re.S)
    assert header is not None
    unfolded = header.group(1).replace(b"\r\n", b"")
    assert b"=?" not in unfolded
    assert len(uris[0]) <= 60


def test_unsubscribe_token_names_reader_list_and_campaign(sender: Sender,
                                                          tokens: TokenSigner) -> None:
    message = parse(render(sender, tokens))
    url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
    token = url.rsplit("/", 1)[1]
    assert tokens.verify(Purpose.UNSUBSCRIBE, token, arity=3) == (9187, 1, 42)
    mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[1]
    assert mailto == links.unsubscribe_mailto(DOMAIN, token)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(TokenInvalid):
        tokens.verify(Purpose.UNSUBSCRIBE, forged, arity=3)


def test_list_id_and_feedback_id(sender: Sender, tokens: TokenSigner) -> None:
    first = parse(render(sender, tokens))
    second = parse(render(sender, tokens, id=77, uid="CampaignUid00077"))
    assert first["List-Id"] == second["List-Id"] == "Example Weekly <weekly.news.example.org>"
    assert re.search(r"<[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+>$", str(first["List-Id"]))
    feedback = str(first["Feedback-ID"])
    assert re.fullmatch(r"([^:]*:){0,3}[A-Za-z0-9]{5,15}", feedback)
    assert feedback == "c42:weekly:nl:exnews01"
    assert "9187" not in feedback and "reader" not in feedback


def test_reader_on_several_lists_gets_the_first_campaign_list_they_are_on(
        sender: Sender, tokens: TokenSigner) -> None:
    compiled = compile_campaign(make_campaign(list_ids=(1, 2)), [WEEKLY, DAILY], layout=None,
                                sender=sender, tokens=tokens, dkim=None)

    def unsubscribe_values(recipient: Recipient) -> tuple[int, ...]:
        message = parse(compiled.render(recipient).data)
        url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
        return tokens.verify(Purpose.UNSUBSCRIBE, url.rsplit("/", 1)[1], arity=3)

    daily_only = make_recipient(5, list_ids=(2,))
    assert parse(compiled.render(daily_only).data)["List-Id"] == \
        "Example Daily <daily.news.example.org>"
    assert unsubscribe_values(daily_only) == (5, 2, 42)
    both = make_recipient(6, list_ids=(2, 1))
    assert unsubscribe_values(both) == (6, 1, 42)
    unknown = make_recipient(7, list_ids=())
    assert unsubscribe_values(unknown) == (7, 0, 42)
    assert parse(compiled.render(unknown).data)["List-Id"] == \
        "Example Weekly <weekly.news.example.org>"


def test_reply_to_and_campaign_sender_override_the_defaults(sender: Sender,
                                                            tokens: TokenSigner) -> None:
    message = parse(render(sender, tokens, from_name="The Editors",
                           from_email=f"editors@{DOMAIN}", reply_to="letters@example.org"))
    assert message["From"] == f"The Editors <editors@{DOMAIN}>"
    assert message["Reply-To"] == "letters@example.org"


def test_both_parts_carry_unsubscribe_preferences_and_postal_address(
        sender: Sender, tokens: TokenSigner) -> None:
    message = parse(render(sender, tokens))
    url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert url in part
        assert "/preferences/" in part
        assert "1 Harbour Street" in part and "Portsmouth PO1 2AB" in part
        assert "Example News" in part
    assert f'href="{url}"' in html


@pytest.mark.parametrize("layout", [
    "<html><body><div>{{ content }}</div></body></html>",
    "<p>{{ content }}</p>",
    "<html><body>{{ content }}{% if false %}{{ footer }}{% endif %}</body></html>",
])
def test_footer_is_added_when_a_layout_leaves_it_out(sender: Sender, tokens: TokenSigner,
                                                     layout: str) -> None:
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=layout, sender=sender,
                                tokens=tokens, dkim=None)
    message = parse(compiled.render(make_recipient()).data)
    url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert f'href="{url}"' in html and url in text
    assert "1 Harbour Street" in html and "1 Harbour Street" in text
    if "</body>" in layout:
        assert html.index(url) < html.index("</body>")


def test_a_layout_with_its_own_complete_footer_is_left_alone(sender: Sender,
                                                            tokens: TokenSigner) -> None:
    layout = ("<html><body>{{ content }}<p><a href=\"{{ unsubscribe_url }}\">Leave</a> "
              "<a href=\"{{ preferences_url }}\">Settings</a> {{ publisher.name }}, "
              "{{ publisher.postal_address }}</p></body></html>")
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=layout, sender=sender,
                                tokens=tokens, dkim=None)
    html = parse(compiled.render(make_recipient()).data).get_body(("html",)).get_content()
    assert "Leave" in html
    assert "Manage preferences" not in html


def test_a_layout_without_content_is_refused(sender: Sender, tokens: TokenSigner) -> None:
    with pytest.raises(ValidationError, match="content"):
        compile_campaign(make_campaign(), [WEEKLY], layout="<p>{{ footer }}</p>", sender=sender,
                         tokens=tokens, dkim=None)


def test_default_layout_is_responsive_dark_aware_branded_and_small(sender: Sender,
                                                                   tokens: TokenSigner) -> None:
    raw = render(sender, tokens)
    html = parse(raw).get_body(("html",)).get_content()
    assert "max-width: 600px" in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert 'role="presentation"' in html
    assert "<img" not in html  # no logo configured, and no other external asset
    assert len(raw) < 100_000
    assert "style=" in html.split("<body", 1)[1]  # CSS inlined into the markup


def test_logo_and_colours_come_from_the_sender(tokens: TokenSigner, sender: Sender) -> None:
    branded = replace(sender, logo_url="https://cdn.example.org/logo.png",
                      color_primary="#aa0000", color_background="#fafafa")
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=None, sender=branded,
                                tokens=tokens, dkim=None)
    html = parse(compiled.render(make_recipient()).data).get_body(("html",)).get_content()
    assert re.findall(r'<img[^>]+src="([^"]+)"', html) == ["https://cdn.example.org/logo.png"]
    assert "#aa0000" in html and "#fafafa" in html


def test_reader_values_are_escaped_in_html_and_plain_in_text(sender: Sender,
                                                             tokens: TokenSigner) -> None:
    reader = make_recipient(name="<script>alert(1)</script> & Co")
    message = parse(render(sender, tokens, reader))
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "Hello <script>alert(1)</script> & Co" in message.get_body(("plain",)).get_content()


def test_preview_is_exactly_what_render_sends(sender: Sender, tokens: TokenSigner) -> None:
    campaign = make_campaign(
        subject="Hi {{ subscriber.first_name }}, Grüße",
        body="Hello {{ subscriber.name }} from {{ subscriber.attributes.city }}.\n\n"
             "{% if subscriber.attributes.plan == 'pro' %}Thanks for going **pro**.{% endif %}")
    compiled = compile_campaign(campaign, [WEEKLY], layout=None, sender=sender, tokens=tokens,
                                dkim=None)
    for reader in (make_recipient(1), make_recipient(2, name="Zoë", attributes={"plan": "free"})):
        preview = compiled.preview(reader, now=1_800_000_000)
        message = parse(compiled.render(reader, now=1_800_000_000).data)
        assert preview.html == message.get_body(("html",)).get_content()
        assert preview.text == message.get_body(("plain",)).get_content()
        assert preview.headers == [(k, str(v)) for k, v in message.items()]


def test_preview_equals_what_an_smtp_server_receives(sender: Sender, tokens: TokenSigner,
                                                     smtp_sink: SmtpSink) -> None:
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    reader = make_recipient()
    outgoing = compiled.render(reader, now=1_800_000_000)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.sendmail(outgoing.envelope_from, [outgoing.recipient], outgoing.data)
    received = smtp_sink.wait_for(1)[0]
    assert received.mail_from == outgoing.envelope_from
    assert received.mail_from.startswith("bounces+") and received.mail_from.endswith(DOMAIN)
    preview = compiled.preview(reader, now=1_800_000_000)
    message = received.message
    assert message.get_body(("html",)).get_content() == preview.html
    assert message.get_body(("plain",)).get_content() == preview.text


def test_compiled_campaign_pickles(sender: Sender, tokens: TokenSigner) -> None:
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    copy = pickle.loads(pickle.dumps(compiled))  # noqa: S301 (our own bytes)
    reader = make_recipient()
    assert copy.preview(reader, now=1.0) == compiled.preview(reader, now=1.0)


def test_envelope_is_verp_and_recipient_address_is_ascii(sender: Sender,
                                                         tokens: TokenSigner) -> None:
    compiled = compile_campaign(make_campaign(), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    outgoing = compiled.render(make_recipient(email="Reader@Bücher.de"))
    assert outgoing.recipient == "Reader@xn--bcher-kva.de"
    assert not outgoing.smtputf8
    assert outgoing.envelope_from == links.verp_address(DOMAIN, tokens, 9187, 42)
    assert parse(outgoing.data)["To"].addresses[0].addr_spec == "Reader@xn--bcher-kva.de"
    international = compiled.render(make_recipient(email="jösé@example.com"))
    assert international.smtputf8


@pytest.mark.parametrize("body_format", list(BodyFormat))
def test_every_body_format_renders(sender: Sender, tokens: TokenSigner,
                                   body_format: BodyFormat) -> None:
    body = "Hello {{ subscriber.first_name }} <b>bold</b>\n\nSecond paragraph"
    message = parse(render(sender, tokens, body=body, body_format=body_format))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Ada" in text and "Second paragraph" in text
    if body_format is BodyFormat.TEXT:
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
    else:
        assert "<b>bold</b>" in html


def test_script_and_handlers_in_a_body_are_removed(sender: Sender, tokens: TokenSigner) -> None:
    body = ('<p onclick="x()">Hi</p><script>alert(1)</script>'
            '<a href="javascript:alert(1)">bad</a><img src="https://x.org/a.png" onerror="y()">')
    html = parse(render(sender, tokens, body=body, body_format=BodyFormat.HTML)) \
        .get_body(("html",)).get_content()
    assert "script" not in html.lower().replace("<!--", "")
    assert "onclick" not in html and "onerror" not in html and "javascript:" not in html
    assert "Hi" in html


def test_a_broken_template_names_its_line(sender: Sender, tokens: TokenSigner) -> None:
    with pytest.raises(ValidationError) as raised:
        render(sender, tokens, body="ok\n\nstill ok\n\n{{ subscriber.nmae }}")
    assert "line" in raised.value.message and "nmae" in raised.value.message
    assert raised.value.field == "body"


def test_reader_data_cannot_pose_as_a_slot(sender: Sender, tokens: TokenSigner) -> None:
    body = ("{% if subscriber.attributes.plan %}Hi {{ subscriber.name[:40] }} "
            "{{ subscriber.attributes.plan }}{% endif %}")
    compiled = compile_campaign(make_campaign(body=body), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    reader = make_recipient(name="Eve\ue0000\ue001\ue002", attributes={"plan": "\ue0009\ue001"})
    message = parse(compiled.render(reader).data)
    text = message.get_body(("plain",)).get_content()
    # Printed by Jinja: the marker characters are dropped; filled into a slot: kept as
    # text. Neither is taken for a slot (which would put a link there).
    assert "Hi Eve0 \ue0009\ue001\r\n" in text


def test_problems_in_a_markdown_body_name_the_line_as_written(sender: Sender,
                                                               tokens: TokenSigner) -> None:
    body = "# Title\n\nParagraph one.\n\n* a\n* b\n\n{{ subscriber.nmae }}\n"
    with pytest.raises(ValidationError) as raised:
        render(sender, tokens, body=body)
    assert raised.value.details["line"] == 8


def test_archive_html_is_the_body_without_reader_data(sender: Sender,
                                                      tokens: TokenSigner) -> None:
    body = ("# Hello {{ subscriber.first_name }}\n\nNews <script>x()</script>.\n\n"
            "{% if subscriber.attributes.plan == 'pro' %}Pro only{% endif %}"
            "[Leave]({{ unsubscribe_url }})")
    compiled = compile_campaign(make_campaign(body=body), [WEEKLY], layout=None, sender=sender,
                                tokens=tokens, dkim=None)
    html = compiled.archive_html()
    assert html.startswith("<h1>Hello </h1>")
    assert "News" in html and "script" not in html and "Pro only" not in html
    assert "/u/" not in html and "\ue000" not in html and "Harbour" not in html


FRAGMENTS = [
    "# Heading {{ subscriber.first_name }}\n\n", "Plain words, ", "**bold** ", "*it* ",
    "{{ subscriber.name }}", "{{ subscriber.attributes.city | upper }}",
    "{% if subscriber.attributes.plan == 'pro' %}pro {% endif %}", "\n\n", "\t  trailing   \n",
    "Grüße 🎉 ", "x" * 300, "=3D = ?= =?utf-8?q?x?= ", "<table><tr><td>cell</td></tr></table>",
    "[link]({{ unsubscribe_url }}) ", ".\n", "From the start\n", "- item\n- item\n\n",
    "<p style='color: red'>styled</p>", "&amp; &lt; < > \" '", "\u00a0\u2028\u200b",
]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join),
       name=st.text(max_size=30), city=st.text(max_size=20),
       body_format=st.sampled_from(list(BodyFormat)))
def test_any_body_makes_a_well_formed_message_that_preview_shows(
        sender: Sender, tokens: TokenSigner, body: str, name: str, city: str,
        body_format: BodyFormat) -> None:
    compiled = compile_campaign(make_campaign(body=body or "x", body_format=body_format),
                                [WEEKLY], layout=None, sender=sender, tokens=tokens, dkim=None)
    reader = make_recipient(name=name, attributes={"city": city, "plan": "pro"})
    raw = compiled.render(reader, now=1_800_000_000).data
    assert raw.isascii()
    assert max(map(len, raw.split(b"\r\n"))) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    preview = compiled.preview(reader, now=1_800_000_000)
    assert message.get_body(("html",)).get_content() == preview.html
    assert message.get_body(("plain",)).get_content() == preview.text
    assert "1 Harbour Street" in preview.text and "/u/" in preview.text
