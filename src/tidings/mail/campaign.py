"""A campaign compiled once, then rendered per reader at a few microseconds each.

:func:`compile_campaign` does the expensive work once: Markdown, sanitising, template
compilation in the sandbox, rendering with slot markers for the per-reader values,
CSS inlining, the text part, quoted-printable encoding and the static headers.
:meth:`CompiledCampaign.render` then fills in one reader: slot values (escaped for
HTML), signed links, the header block written by hand, the DKIM signature.

Templates with per-reader *logic* (``{% if subscriber.attributes.plan == "pro" %}``)
are rendered per reader in the sandbox, and each distinct result is compiled once and
kept (up to :data:`VARIANT_CACHE` of them), so a handful of variants costs little.

The footer rule: every campaign message carries a visible unsubscribe link, a
manage-preferences link, the publisher's name and postal address. A layout places
the standard footer with ``{{ footer }}`` or writes its own with ``unsubscribe_url``,
``preferences_url`` and ``publisher.postal_address``; when the finished HTML lacks
any of them, the standard footer is added before ``</body>``. The text part is made
from that HTML, so it carries them too.

List rule: a reader on several of the campaign's lists gets the List-Id, Feedback-ID
and unsubscribe link (which ends that one subscription) of the first of the
campaign's lists, in the order given to :func:`compile_campaign`, that the reader is
on (:attr:`Recipient.list_ids`). With no such list the unsubscribe link ends every
subscription (list 0) and the List-Id is that of the campaign's first list.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import css_inline
from markupsafe import Markup, escape

from tidings.domain.campaigns import Campaign
from tidings.domain.errors import ValidationError
from tidings.domain.lists import MailingList
from tidings.mail import content, headers, links, mime, slots, templates, text
from tidings.mail.context import Outgoing, Recipient, Sender
from tidings.mail.dkim import DkimSigner, relaxed_header
from tidings.mail.headers import Header
from tidings.mail.slots import Slot, SlotTable
from tidings.mail.templates import Kind
from tidings.mail.tokens import TokenSigner

VARIANT_CACHE = 64
_CONTENT_MARK = Markup("\ue002")  # a private-use character: nothing to escape
_BODY_END = re.compile(r"</body\s*>", re.I)
_UNSUBSCRIBE_SLOT = Slot("unsubscribe_url")
_PREFERENCES_SLOT = Slot("preferences_url")


@cache
def layout_source(name: str) -> str:
    """A built-in layout: ``default``, ``system`` or ``footer``."""
    return resources.files("tidings.mail").joinpath(f"layouts/{name}.html").read_text("utf-8")


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    """``html`` with its ``<style>`` rules moved into ``style`` attributes.

    At-rules (``@media``, dark mode) stay in a ``<style>`` block; nothing remote is
    fetched.
    """
    return str(_inliner().inline(html))


class Preview(NamedTuple):
    """What a reader's message contains: the two parts decoded, and every header.

    The parts have CRLF line ends, as they travel and as Python's ``email`` package
    decodes them from a received message.
    ``headers`` are (name, value) with values unfolded and RFC 2047 decoded, in
    message order, without ``DKIM-Signature`` (its value depends on the signing time).
    """

    html: str
    text: str
    headers: list[tuple[str, str]]


class _Built(NamedTuple):
    headers: list[Header]
    variant: _Variant
    text_values: dict[int, str]
    html_values: dict[int, str]
    message_id: str


@dataclass(frozen=True, slots=True)
class _Variant:
    body: mime.BodyTemplate
    text_slots: tuple[int, ...]
    html_slots: tuple[int, ...]


def _list_dict(item: MailingList) -> dict[str, Any]:
    return {"name": item.name, "slug": item.slug, "description": item.description,
            "uid": item.uid}


def _reader_dict(recipient: Recipient, lists: Sequence[MailingList]) -> dict[str, Any]:
    parts = recipient.name.split()
    attributes = recipient.attributes
    return {
        "name": recipient.name, "email": recipient.email, "uid": recipient.uid,
        "first_name": parts[0] if parts else "",
        "last_name": " ".join(parts[1:]),
        "attributes": attributes, "attribs": attributes,
        "lists": [item.name for item in lists if item.id in recipient.list_ids],
    }


class CompiledCampaign:
    """One campaign ready to render for any number of readers (and to pickle)."""

    def __init__(self, campaign: Campaign, lists: Sequence[MailingList], *, layout: str | None,
                 sender: Sender, tokens: TokenSigner, dkim: DkimSigner | None,
                 kind: str = "nl") -> None:
        """Prefer :func:`compile_campaign`. ``kind`` ``welcome`` makes a list's welcome
        message: ``Auto-Submitted``, a fresh Message-ID, ``welcome`` in Feedback-ID."""
        self._args = (campaign, tuple(lists), layout, sender, tokens, dkim, kind)
        self.kind = kind
        self.campaign = campaign
        self.lists = tuple(lists)
        self.sender = sender
        self.tokens = tokens
        self.dkim = dkim
        self.table = SlotTable()
        self.boundary = mime.new_boundary(f"{kind}:{campaign.id}:{campaign.uid}")
        self._variants: OrderedDict[str, _Variant] = OrderedDict()
        self._lock = threading.Lock()
        self._subject_getters: dict[int, slots.Getter] = {}
        self._date: tuple[int, str] = (-1, "")

        self._compile_templates(campaign, layout)
        self._prepare_html()
        self._prepare_headers()

    def _compile_templates(self, campaign: Campaign, layout: str | None) -> None:
        # The body is checked as written first, so problems name the editor's lines.
        templates.check(campaign.body, kind=Kind.BODY, field_name="body")
        source = content.to_html(campaign.body, campaign.body_format)
        self._body = slots.compile_source(source, self.table, kind=Kind.BODY,
                                              field_name="body")
        self._layout = slots.compile_source(layout or layout_source("default"), self.table,
                                                kind=Kind.LAYOUT, field_name="layout")
        self._subject = slots.compile_source(campaign.subject, self.table,
                                                 kind=Kind.SUBJECT, field_name="subject")
        self._footer_template = slots.compile_source(layout_source("footer"), self.table,
                                                         kind=Kind.BODY)

    def _prepare_html(self) -> None:
        """Render what does not depend on the reader, with markers for the slots."""
        campaign, sender = self.campaign, self.sender
        archive = ""
        if campaign.archive:
            archive = links.archive_url(sender.base_url, campaign.archive_slug or campaign.uid)
        self._static: dict[str, Any] = {
            "publisher": {
                "name": sender.publisher_name, "postal_address": sender.postal_address,
                "website_url": sender.website_url, "logo_url": sender.logo_url,
                "color_primary": sender.color_primary,
                "color_background": sender.color_background,
            },
            "campaign": {"name": campaign.name, "subject": campaign.name, "uid": campaign.uid,
                         "archive_url": archive},
            "lists": [_list_dict(item) for item in self.lists],
            "archive_url": archive,
        }
        self._subject_marked = ""
        if not self._subject.per_reader:
            self._subject_marked = self._subject.render(self._static).strip()
            # Escaped here (the layout prints it as is) so its slot markers survive.
            self._static["campaign"]["subject"] = Markup(  # noqa: S704
                escape(self._subject_marked))
        self._footer = self._footer_template.render(self._static)
        preheader = campaign.extra.get("preheader")
        self._static["preheader"] = preheader if isinstance(preheader, str) else ""
        self._static["footer"] = Markup(self._footer)  # noqa: S704 (rendered with autoescape)

        self._body_static = None if self._body.per_reader else self._body.render(self._static)
        self._layout_parts: tuple[str, str] | None = None
        if not self._layout.per_reader:
            marked = self._layout.render({**self._static, "content": _CONTENT_MARK})
            if marked.count(_CONTENT_MARK) != 1:
                raise ValidationError("A layout must place {{ content }} exactly once.",
                                      field="layout")
            before, after = marked.split(_CONTENT_MARK)
            self._layout_parts = (before, after)
        self._per_reader = self._body.per_reader or self._layout.per_reader
        if not self._per_reader:
            self._static_variant = self._variant(self._html(None))

    def _prepare_headers(self) -> None:
        """The header values shared by every reader (and their DKIM canonical forms)."""
        campaign, sender = self.campaign, self.sender
        self._from = headers.address(campaign.from_name or sender.from_name
                                     or sender.publisher_name,
                                     campaign.from_email or sender.from_email)
        reply_to = campaign.reply_to or sender.reply_to
        self._reply_to = headers.address("", reply_to) if reply_to else ""
        self._content_type = f'multipart/alternative; boundary="{self.boundary}"'
        self._list_headers = {item.id: self._list_header_values(item) for item in self.lists}
        self._list_headers[0] = self._list_header_values(self.lists[0] if self.lists else None)
        self._subject_value = ""
        if self._subject_marked and not slots.SLOT.search(self._subject_marked):
            self._subject_value = headers.text("Subject", self._subject_marked)
        self._known: dict[Header, bytes] = {}
        if self.dkim is not None:
            static = [("From", self._from), ("MIME-Version", "1.0"),
                      ("Content-Type", self._content_type),
                      ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                      ("Precedence", "bulk"), ("Auto-Submitted", "auto-generated")]
            if self._reply_to:
                static.append(("Reply-To", self._reply_to))
            for list_header, feedback in self._list_headers.values():
                static += [("List-Id", list_header), ("Feedback-ID", feedback)]
            self._known = {header: relaxed_header(*header) for header in static}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, self._args)

    # Per-campaign pieces -----------------------------------------------------------------

    def _list_header_values(self, item: MailingList | None) -> tuple[str, str]:
        domain = self.sender.mail_domain
        if item is None:
            list_id = f"{headers.phrase(self.sender.publisher_name)} <all.{domain}>"
            slug = "all"
        else:
            list_id = f"{headers.phrase(item.name)} <{item.slug}.{domain}>"
            slug = item.slug
        first, stream = (f"c{self.campaign.id}", "nl") if self.kind == "nl" else (self.kind, "tx")
        feedback = f"{first}:{slug}:{stream}:{self.sender.feedback_sender_id}"
        return list_id, feedback

    def _html(self, scope: Mapping[str, Any] | None) -> str:
        """The message HTML with slot markers, before CSS inlining."""
        context = self._static if scope is None else {**self._static, **scope}
        body = self._body_static if self._body_static is not None else self._body.render(context)
        if self._layout_parts is not None:
            return self._layout_parts[0] + body + self._layout_parts[1]
        # The body was rendered with autoescape by the sandbox.
        return self._layout.render({**context, "content": Markup(body)})  # noqa: S704

    def _variant(self, html: str) -> _Variant:
        with self._lock:
            found = self._variants.get(html)
            if found is not None:
                self._variants.move_to_end(html)
                return found
        inlined = self._with_footer(inline_css(html))
        plain = text.from_html(inlined)
        body = mime.BodyTemplate(self.boundary, plain, inlined)
        variant = _Variant(body, body.text_slots, body.html_slots)
        with self._lock:
            self._variants[html] = variant
            if len(self._variants) > VARIANT_CACHE:
                self._variants.popitem(last=False)
        return variant

    def _with_footer(self, html: str) -> str:
        """``html`` with the standard footer added if a mandatory element is missing."""
        unsubscribe = self.table.marker(_UNSUBSCRIBE_SLOT)
        preferences = self.table.marker(_PREFERENCES_SLOT)
        required = [f'href="{unsubscribe}"', f'href="{preferences}"',
                    str(escape(self.sender.publisher_name))]
        required += [str(escape(line.strip())) for line in self.sender.postal_address.split("\n")
                     if line.strip()]
        if all(item in html for item in required):
            return html
        ends = list(_BODY_END.finditer(html))
        if not ends:
            return html + self._footer
        at = ends[-1].start()
        return html[:at] + self._footer + html[at:]

    # Per reader ---------------------------------------------------------------------------

    def reader_list(self, recipient: Recipient) -> MailingList | None:
        """The campaign list this reader gets the message through (see the list rule)."""
        for item in self.lists:
            if item.id in recipient.list_ids:
                return item
        return self.lists[0] if len(self.lists) == 1 else None

    def _scope(self, recipient: Recipient, reader_list: MailingList | None,
               unsubscribe: str) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "subscriber": _reader_dict(recipient, self.lists),
            "unsubscribe_url": unsubscribe,
            "preferences_url": links.preferences_url(self.sender.base_url, self.tokens,
                                                     recipient.subscriber_id),
        }
        if reader_list is not None:
            scope["list"] = _list_dict(reader_list)
        return scope

    def _subject_getter(self, index: int) -> slots.Getter:
        """Slot ``index`` as the (not escaping) subject prints it."""
        found = self._subject_getters.get(index)
        if found is None:
            found = slots.getter(self.table.slots[index], templates.environment(False))
            self._subject_getters[index] = found
        return found

    def _date_header(self, now: float | None) -> str:
        second = int(time.time() if now is None else now)
        if self._date[0] != second:
            self._date = (second, headers.date(second))
        return self._date[1]

    def _build(self, recipient: Recipient, *, now: float | None, test: bool) -> _Built:
        reader_list = self.reader_list(recipient)
        list_id = reader_list.id if reader_list is not None else 0
        token = links.unsubscribe_token(self.tokens, recipient.subscriber_id, list_id,
                                        self.campaign.id)
        unsubscribe = links.unsubscribe_url(self.sender.base_url, token)
        scope = self._scope(recipient, reader_list, unsubscribe)
        variant = self._variant(self._html(scope)) if self._per_reader else self._static_variant
        text_values, html_values = self.table.values(scope, variant.text_slots,
                                                     variant.html_slots)

        if self._subject_value and not test:
            subject = self._subject_value
        else:
            marked = self._subject_marked if not self._subject.per_reader else \
                self._subject.render({**self._static, **scope}).strip()
            filled = mime.join_slots(marked, lambda i: self._subject_getter(i)(scope))
            subject = headers.text("Subject", ("[Test] " if test else "") + filled)

        domain = self.sender.mail_domain
        if test or recipient.subscriber_id == 0 or self.kind != "nl":
            message_id = f"<{'t' if test else self.kind}{self.campaign.id}." \
                         f"{secrets.token_hex(8)}@{domain}>"
        else:
            message_id = (f"<c{self.campaign.id}.s{recipient.subscriber_id}."
                          f"{self.campaign.uid}@{domain}>")
        list_header, feedback = self._list_headers[list_id]
        result: list[Header] = [
            ("From", self._from),
            ("To", headers.address(recipient.name, recipient.email)),
            ("Subject", subject),
            ("Date", self._date_header(now)),
            ("Message-ID", message_id),
            ("MIME-Version", "1.0"),
            ("Content-Type", self._content_type),
            ("List-Id", list_header),
            ("List-Unsubscribe", f"<{unsubscribe}>,\r\n "
                                 f"<{links.unsubscribe_mailto(domain, token)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Feedback-ID", feedback),
            ("Precedence", "bulk"),
        ]
        if self._reply_to:
            result.append(("Reply-To", self._reply_to))
        if self.kind != "nl":
            result.append(("Auto-Submitted", "auto-generated"))
        return _Built(result, variant, text_values, html_values, message_id)

    def render(self, recipient: Recipient, *, now: float | None = None,
               test: bool = False) -> Outgoing:
        """The finished message for ``recipient`` (signed when the campaign has a signer).

        ``test`` marks a test send: ``[Test]`` before the subject and a fresh
        Message-ID, so test sends are never taken for duplicates of the real one.
        Raises :class:`~tidings.domain.errors.InvalidEmail` for an address that cannot
        be written in a header, and :class:`~tidings.domain.errors.ValidationError`
        when a template with per-reader logic fails for this reader.
        """
        built = self._build(recipient, now=now, test=test)
        filled = built.variant.body.fill(built.text_values, built.html_values,
                                         body_hash=self.dkim is not None)
        head = headers.serialize(built.headers)
        if self.dkim is not None:
            assert filled.body_hash is not None
            head = self.dkim.signature_headers(built.headers, filled.body_hash, now=now,
                                               known=self._known) + head
        return Outgoing(
            envelope_from=links.verp_address(self.sender.mail_domain, self.tokens,
                                             recipient.subscriber_id, self.campaign.id),
            recipient=headers.addr_spec(recipient.email),
            data=head + filled.data,
            message_id=built.message_id,
        )

    def preview(self, recipient: Recipient, *, now: float | None = None) -> Preview:
        """Exactly what :meth:`render` puts in ``recipient``'s message, decoded."""
        built = self._build(recipient, now=now, test=False)
        plain, html = built.variant.body.decoded(built.text_values, built.html_values)
        return Preview(html, plain, [(name, headers.decode(value))
                                     for name, value in built.headers])


    def archive_html(self) -> str:
        """The body as the web archive shows it: no layout or footer, reader fields empty.

        Sanitised like every body, with the reader's name, attributes and links left
        out (a per-reader condition sees a reader with no data).
        """
        anonymous = {"subscriber": _reader_dict(Recipient.for_address(""), ())}
        context = {**self._static, **anonymous}
        body = self._body_static if self._body_static is not None else self._body.render(context)
        return slots.SLOT.sub("", body)


def _rebuild(campaign: Campaign, lists: tuple[MailingList, ...], layout: str | None,
             sender: Sender, tokens: TokenSigner, dkim: DkimSigner | None,
             kind: str) -> CompiledCampaign:
    return CompiledCampaign(campaign, lists, layout=layout, sender=sender, tokens=tokens,
                            dkim=dkim, kind=kind)


def compile_campaign(campaign: Campaign, lists: Sequence[MailingList], *, layout: str | None,
                     sender: Sender, tokens: TokenSigner,
                     dkim: DkimSigner | None) -> CompiledCampaign:
    """Compile ``campaign`` for sending to readers of ``lists`` (its lists, in order).

    ``layout`` is the source of the campaign's layout template (None: the default
    layout). Raises :class:`~tidings.domain.errors.ValidationError` when the subject,
    body or layout cannot be used, naming the template and line.
    """
    return CompiledCampaign(campaign, lists, layout=layout, sender=sender, tokens=tokens,
                            dkim=dkim)
