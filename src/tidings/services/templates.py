"""Layout templates: create, change, choose the default, delete.

A layout is a sandboxed Jinja2 template (:mod:`tidings.mail.templates`) that places a
campaign's content with ``{{ content }}``. Nothing is saved that would not render:
the source is checked with :func:`tidings.mail.templates.validate` (every problem
with its line) and then rendered once with a sample campaign and reader. Exactly one
template is the default; the first one, "Default", is seeded from the built-in
responsive layout the first time templates are needed. A template that a campaign
or an RSS feed uses cannot be deleted.
"""

from __future__ import annotations

import jinja2
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.db import events
from tidings.db import templates as db_templates
from tidings.db.database import Database
from tidings.domain import templates as domain
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid
from tidings.domain.templates import Template
from tidings.domain.timezones import utcnow
from tidings.mail import templates as sandbox
from tidings.mail.campaign import compile_campaign, layout_source
from tidings.mail.context import Recipient, Sender
from tidings.mail.tokens import TokenSigner

DEFAULT_NAME = "Default"


def check_source(source: str) -> str:
    """Return ``source`` if it is a layout that renders, else raise :class:`ValidationError`.

    The error message lists every problem as ``line N: ...``; ``problems`` in its
    details holds them as ``{"line", "message"}``.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValidationError("The template is empty.", field="body")
    problems = sandbox.validate(source, kind=sandbox.Kind.LAYOUT)
    if problems:
        listed = "; ".join(f"line {p.line}: {p.message}" for p in problems)
        raise ValidationError(f"The template cannot be used: {listed}", field="body",
                              problems=[{"line": p.line, "message": p.message}
                                        for p in problems])
    _trial_render(source)
    return source


def _trial_render(source: str) -> None:
    """Render the layout once around a sample campaign, as sending would."""
    now = utcnow()
    sample = Campaign(id=1, uid="sample-campaign0", name="Sample", subject="Sample issue",
                      body="<p>Sample content.</p>", body_format=BodyFormat.HTML,
                      status=CampaignStatus.DRAFT, created_at=now, updated_at=now)
    sender = Sender(base_url="https://news.example.org", mail_domain="news.example.org",
                    publisher_name="Publisher", from_email="news@news.example.org",
                    postal_address="1 Sample Street")
    reader = Recipient(subscriber_id=1, uid="sample-reader000", email="reader@example.org",
                       name="Sample Reader", attributes={})
    try:
        compiled = compile_campaign(sample, [], layout=source, sender=sender,
                                    tokens=TokenSigner("sample-template-key-0123456789"),
                                    dkim=None)
        compiled.preview(reader)
    except ValidationError as exc:
        raise ValidationError(f"The template cannot be used: {exc.message}",
                              field="body") from None
    except (jinja2.TemplateError, ValueError, TypeError, LookupError) as exc:
        raise ValidationError(f"The template fails when rendered: {exc}", field="body") from None


def ensure_default(conn: Connection) -> Template:
    """The default template, seeding the built-in layout when there is none."""
    found = db_templates.default(conn)
    if found is not None:
        return found
    try:
        with conn.begin_nested():  # another process may be seeding it at the same moment
            return db_templates.insert_template(conn, uid=new_uid(), name=DEFAULT_NAME,
                                                body=layout_source("default"),
                                                is_default=True, now=utcnow())
    except IntegrityError:
        seeded = db_templates.default(conn)
        assert seeded is not None
        return seeded


def create(db: Database, *, name: str, body: str, make_default: bool = False,
           actor: str | None = None) -> Template:
    clean_name = domain.check_name(name)
    check_source(body)
    now = utcnow()
    with db.write() as conn:
        ensure_default(conn)
        if make_default:
            db_templates.clear_default(conn, now)
        created = db_templates.insert_template(conn, uid=new_uid(), name=clean_name, body=body,
                                               is_default=make_default, now=now)
        events.record(conn, "template.created", now, actor=actor, subject_type="template",
                      subject_id=created.id)
    return created


def update(db: Database, ref: str, *, name: str | None = None, body: str | None = None,
           actor: str | None = None) -> Template:
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = domain.check_name(name)
    if body is not None:
        values["body"] = check_source(body)
    now = utcnow()
    with db.write() as conn:
        current = find(conn, ref)
        if not values:
            return current
        changed = db_templates.update_template(conn, current.id, now, **values)
        events.record(conn, "template.updated", now, actor=actor, subject_type="template",
                      subject_id=current.id, data={"keys": sorted(values)})
    return changed


def set_default(db: Database, ref: str, *, actor: str | None = None) -> Template:
    """Make ``ref`` the one default template (new campaigns and digests use it)."""
    now = utcnow()
    with db.write() as conn:
        chosen = find(conn, ref)
        db_templates.clear_default(conn, now)
        changed = db_templates.update_template(conn, chosen.id, now, is_default=True)
        events.record(conn, "template.default", now, actor=actor, subject_type="template",
                      subject_id=chosen.id)
    return changed


def delete(db: Database, ref: str, *, actor: str | None = None) -> Template:
    """Delete a template that is not the default and that nothing uses."""
    now = utcnow()
    with db.write() as conn:
        found = find(conn, ref)
        if found.is_default:
            raise Conflict("This is the default template; make another one the default "
                           "first.")
        used_campaigns, used_feeds = db_templates.usage(conn, found.id)
        if used_campaigns or used_feeds:
            raise Conflict(f"The template is in use by {used_campaigns} campaign(s) and "
                           f"{used_feeds} feed(s).")
        db_templates.delete_template(conn, found.id)
        events.record(conn, "template.deleted", now, actor=actor, subject_type="template",
                      subject_id=found.id, data={"name": found.name})
    return found


def find(conn: Connection, ref: str) -> Template:
    """Find a template by public id or integer id; raise :class:`NotFound`."""
    ref = ref.strip()
    found = db_templates.get_by_uid(conn, ref) if looks_like_uid(ref) else None
    if found is None and as_internal_id(ref) is not None:
        found = db_templates.get(conn, int(ref))
    if found is None:
        raise NotFound(f"No template {ref!r}.")
    return found


def get(db: Database, ref: str) -> Template:
    with db.read() as conn:
        return find(conn, ref)


def all_templates(db: Database) -> list[Template]:
    """Every template, the default seeded first if there was none."""
    with db.write() as conn:
        ensure_default(conn)
        return db_templates.all_templates(conn)
