"""Transactional messages: the outbox kinds of :mod:`tidings.services.outbox`.

The delivery worker takes an outbox row, loads what its kind needs, and calls
:func:`build`; it never needs to know what the message says.

===================  ============================  =======================================
kind                 payload                       the caller also passes
===================  ============================  =======================================
``confirmation``     ``{"consent_id", "list_ids"}``  ``recipient`` (the subscriber),
                                                   ``lists`` (the lists of ``list_ids``)
``welcome``          ``{"list_id"}``               ``recipient``, ``lists`` (that one list),
                                                   ``welcome_subject``/``welcome_body`` (the
                                                   list's columns; None for the default text)
``test``             ``{"campaign_id"}``           ``campaign``, ``lists`` (its lists),
                                                   ``layout`` (its template source or None),
                                                   ``recipient`` (the subscriber with that
                                                   address, or None)
``password_reset``   ``{"user_id"}``               ``link`` (from
                                                   :func:`~tidings.mail.links.password_reset_url`),
                                                   ``name`` (the user's name, may be empty)
===================  ============================  =======================================

Every call also takes ``to_email``, ``sender``, ``tokens`` and ``dkim`` (the signer for
the From domain or None). A missing input raises :class:`ValueError` (a programming
error, not bad data).

The confirmation (double opt-in) names the lists, states when the link expires, and
carries nothing else: no images, no tracking, no advertising, no unsubscribe headers
(nobody is subscribed yet). Confirmation, welcome and password messages are marked
``Auto-Submitted: auto-generated`` (RFC 3834). A welcome message is a list message:
it has the list's footer, List-Id and one-click unsubscribe like a campaign. A test
is the campaign as its reader would get it, with ``[Test]`` before the subject.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.lists import MailingList
from tidings.mail import campaign as campaigns
from tidings.mail import headers, links, mime, slots, templates, text
from tidings.mail.context import Outgoing, Recipient, Sender
from tidings.mail.dkim import DkimSigner
from tidings.mail.headers import Header
from tidings.mail.slots import SlotTable
from tidings.mail.templates import Kind
from tidings.mail.tokens import TokenSigner

KINDS = frozenset({"confirmation", "welcome", "test", "password_reset"})

DEFAULT_WELCOME_SUBJECT = "Welcome to {{ list.name }}"
DEFAULT_WELCOME_BODY = (
    "Hello{% if subscriber.first_name %} {{ subscriber.first_name }}{% endif %},\n\n"
    "thank you for subscribing to **{{ list.name }}**. The next issue will arrive in "
    "this inbox.\n\n"
    "You can change which newsletters you get, or unsubscribe, at any time with the links "
    "at the bottom of every email.\n"
)

_CONFIRMATION = """\
<p>Hello{% if name %} {{ name }}{% endif %},</p>
<p>Please confirm that you want to receive {{ what }} from {{ publisher }}:</p>
<ul>{% for item in lists %}<li>{{ item }}</li>{% endfor %}</ul>
<p><a class="button" href="{{ url }}">Confirm my subscription</a></p>
<p class="small">Or open this link: <a href="{{ url }}">{{ url }}</a></p>
<p class="small">The link works for {{ days }} days, until {{ expires }} (UTC). If you did not
ask for this, ignore this email: you will not be subscribed and will not hear from us
again.</p>
"""

_RESET_BODY = """\
<p>Hello{% if name %} {{ name }}{% endif %},</p>
<p>Someone (we hope you) asked to reset the password of your account at {{ publisher }}.</p>
<p><a class="button" href="{{ url }}">Choose a new password</a></p>
<p class="small">Or open this link: <a href="{{ url }}">{{ url }}</a></p>
<p class="small">The link works for {{ minutes }} minutes. If you did not ask for this, ignore
this email: your password stays as it is.</p>
"""

_SYSTEM_FOOTER = """\
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
<td style="padding: 16px; font-family: Arial, sans-serif; font-size: 13px; color: #6b7280; \
text-align: center;">{{ publisher.name }}{% if publisher.postal_address %}, \
{{ publisher.postal_address | replace("\\n", ", ") }}{% endif %}</td></tr></table>
"""


def build(kind: str, payload: Mapping[str, Any], *, to_email: str, sender: Sender,
          tokens: TokenSigner, dkim: DkimSigner | None = None,
          recipient: Recipient | None = None, lists: Sequence[MailingList] = (),
          welcome_subject: str | None = None, welcome_body: str | None = None,
          campaign: Campaign | None = None, layout: str | None = None,
          link: str | None = None, name: str = "", now: float | None = None) -> Outgoing:
    """The message of outbox ``kind`` for ``to_email`` (see the module docs for inputs)."""
    if kind == "confirmation":
        if recipient is None:
            raise ValueError("a confirmation needs the subscriber")
        return confirmation(recipient, lists, int(payload["consent_id"]), to_email=to_email,
                            sender=sender, tokens=tokens, dkim=dkim, now=now)
    if kind == "welcome":
        if recipient is None or len(lists) != 1:
            raise ValueError("a welcome message needs the subscriber and its list")
        return welcome(recipient, lists[0], welcome_subject, welcome_body, to_email=to_email,
                       sender=sender, tokens=tokens, dkim=dkim, now=now)
    if kind == "test":
        if campaign is None:
            raise ValueError("a test message needs the campaign")
        reader = replace(recipient or Recipient.for_address(to_email), email=to_email)
        compiled = campaigns.compile_campaign(campaign, lists, layout=layout, sender=sender,
                                              tokens=tokens, dkim=dkim)
        return compiled.render(reader, now=now, test=True)
    if kind == "password_reset":
        if not link:
            raise ValueError("a password reset needs its link")
        return password_reset(link, name, to_email=to_email, sender=sender, tokens=tokens,
                              dkim=dkim, now=now)
    raise ValueError(f"unknown outbox kind {kind!r}")


def confirmation(recipient: Recipient, lists: Sequence[MailingList], consent_id: int, *,
                 to_email: str, sender: Sender, tokens: TokenSigner,
                 dkim: DkimSigner | None = None, now: float | None = None) -> Outgoing:
    """The double opt-in message: one button to ``/confirm/<token>``, nothing else."""
    if not lists:
        raise ValueError("a confirmation names at least one list")
    moment = datetime.now(UTC).timestamp() if now is None else now
    url = links.confirm_url(sender.base_url, tokens, recipient.subscriber_id, consent_id,
                            now=moment)
    expires = datetime.fromtimestamp(moment + links.CONFIRM_MAX_AGE, UTC)
    names = [item.name for item in lists]
    what = "this newsletter" if len(names) == 1 else "these newsletters"
    subject = (f"Please confirm your subscription to {names[0]}" if len(names) == 1
               else f"Please confirm your subscription to {len(names)} newsletters")
    html = _render(_CONFIRMATION, {
        "name": recipient.name, "what": what, "publisher": sender.publisher_name,
        "lists": names, "url": url, "days": links.CONFIRM_MAX_AGE // 86400,
        "expires": expires.strftime("%d %B %Y, %H:%M"),
    })
    return _system_message(subject, html, kind="confirmation", to_email=to_email,
                           to_name=recipient.name, subscriber_id=recipient.subscriber_id,
                           sender=sender, tokens=tokens, dkim=dkim, now=moment)


def password_reset(link: str, name: str, *, to_email: str, sender: Sender, tokens: TokenSigner,
                   dkim: DkimSigner | None = None, now: float | None = None) -> Outgoing:
    """The password reset message for an admin user: the link, and when it stops working."""
    html = _render(_RESET_BODY, {"name": name, "publisher": sender.publisher_name,
                                     "url": link,
                                     "minutes": links.PASSWORD_RESET_MAX_AGE // 60})
    return _system_message(f"Reset your password at {sender.publisher_name}", html,
                           kind="password", to_email=to_email, to_name=name, subscriber_id=0,
                           sender=sender, tokens=tokens, dkim=dkim, now=now)


def welcome(recipient: Recipient, mailing_list: MailingList, subject: str | None,
            body: str | None, *, to_email: str, sender: Sender, tokens: TokenSigner,
            dkim: DkimSigner | None = None, now: float | None = None) -> Outgoing:
    """The welcome message of ``mailing_list`` (Markdown with merge fields)."""
    moment = datetime.now(UTC)
    pseudo = Campaign(id=0, uid=mailing_list.uid, name=mailing_list.name,
                      subject=subject or DEFAULT_WELCOME_SUBJECT,
                      body=body or DEFAULT_WELCOME_BODY, body_format=BodyFormat.MARKDOWN,
                      status=CampaignStatus.DRAFT, created_at=moment, updated_at=moment,
                      list_ids=(mailing_list.id,))
    compiled = campaigns.CompiledCampaign(pseudo, [mailing_list], layout=None, sender=sender,
                                          tokens=tokens, dkim=dkim, kind="welcome")
    reader = replace(recipient, email=to_email,
                     list_ids=tuple({*recipient.list_ids, mailing_list.id}))
    return compiled.render(reader, now=now, test=False)


def _render(source: str, context: Mapping[str, Any]) -> str:
    env = templates.environment(True)
    return templates.render(env.from_string(source), context)


def _system_message(subject: str, content_html: str, *, kind: str, to_email: str, to_name: str,
                    subscriber_id: int, sender: Sender, tokens: TokenSigner,
                    dkim: DkimSigner | None, now: float | None) -> Outgoing:
    table = SlotTable()
    layout = slots.compile_source(campaigns.layout_source("system"), table, kind=Kind.LAYOUT)
    publisher = {"name": sender.publisher_name, "postal_address": sender.postal_address}
    footer = _render(_SYSTEM_FOOTER, {"publisher": publisher})
    # Both were rendered by the autoescaping sandbox just above.
    html = campaigns.inline_css(layout.render({
        "content": Markup(content_html), "footer": Markup(footer),  # noqa: S704
        "campaign": {"subject": subject}, "publisher": publisher,
    }))
    boundary = mime.new_boundary()
    body = mime.BodyTemplate(boundary, text.from_html(html), html).fill(
        {}, {}, body_hash=dkim is not None)
    domain = sender.mail_domain
    message_id = f"<{kind}.{secrets.token_hex(12)}@{domain}>"
    header_list: list[Header] = [
        ("From", headers.address(sender.from_name or sender.publisher_name, sender.from_email)),
        ("To", headers.address(to_name, to_email)),
        ("Subject", headers.text("Subject", subject)),
        ("Date", headers.date(now)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("Auto-Submitted", "auto-generated"),
        ("Feedback-ID", f"{kind}:tx:{sender.feedback_sender_id}"),
    ]
    if sender.reply_to:
        header_list.append(("Reply-To", headers.address("", sender.reply_to)))
    head = headers.serialize(header_list)
    if dkim is not None:
        assert body.body_hash is not None
        head = dkim.signature_headers(header_list, body.body_hash, now=now) + head
    return Outgoing(envelope_from=links.verp_address(domain, tokens, subscriber_id, 0),
                    recipient=headers.addr_spec(to_email), data=head + body.data,
                    message_id=message_id)
