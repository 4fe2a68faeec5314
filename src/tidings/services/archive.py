"""The public archive: issues published to the web, rendered for nobody in particular.

An editor publishes a campaign to the archive (:func:`publish`) under a slug; it shows
at ``/archive/<slug>`` once it has started going out (running, paused or finished;
never a draft, a scheduled or a cancelled one). An issue is rendered exactly as the
mail, for a placeholder reader named "Reader" with the address ``reader@example.com``;
its unsubscribe and preference links, which would carry a reader's signed token,
point to the public signup page instead; and the HTML is sanitised with nh3 before it
is shown. Nothing about any real subscriber can reach the page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import nh3
from sqlalchemy import Connection

from tidings.db import archive as db_archive
from tidings.db import campaigns as db_campaigns
from tidings.db import events
from tidings.db.database import Database
from tidings.domain.campaigns import Campaign, CampaignStatus
from tidings.domain.errors import Conflict, InvalidTransition, NotFound, ValidationError
from tidings.domain.ids import looks_like_uid
from tidings.domain.timezones import utcnow
from tidings.mail.content import SAFE_ATTRIBUTES, SAFE_TAGS
from tidings.mail.tokens import TokenSigner
from tidings.services import campaigns
from tidings.services.campaigns import PLACEHOLDER, Site

PER_PAGE = 20
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?\Z")

# On the archive page an issue keeps the markup of its email, but its links open in place.
_ATTRIBUTES = {**SAFE_ATTRIBUTES, "a": {"href", "name"}}


@dataclass(frozen=True, slots=True)
class Issue:
    """One archived issue as the public sees it."""

    slug: str
    subject: str
    published_at: datetime
    html: str     # sanitised; safe to put in a page as is
    text: str


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(tags=set(SAFE_TAGS), attributes=_ATTRIBUTES,
                       clean_content_tags={"script", "style", "title"},
                       url_schemes={"http", "https", "mailto"}, strip_comments=True)


def slugify(text: str) -> str:
    """A URL slug from ``text``: ASCII letters and digits joined by hyphens."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:100].strip("-")
    return slug or "issue"


def check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise ValidationError("An archive slug is 1-100 lower-case letters, digits and inner "
                              "hyphens.", field="slug")
    return slug


def _free_slug(conn: Connection, base: str, campaign_id: int) -> str:
    slug, n = base, 1
    while db_archive.slug_taken(conn, slug, campaign_id):
        n += 1
        slug = f"{base[:95]}-{n}"
    return slug


def publish(db: Database, ref: str, *, slug: str | None = None,
            actor: str | None = None) -> Campaign:
    """Publish a campaign to the archive (it shows once it has gone out).

    Without ``slug`` the campaign keeps the slug it had, or gets one from its name.
    """
    now = utcnow()
    with db.write() as conn:
        campaign = campaigns.find(conn, ref)
        if campaign.status is CampaignStatus.CANCELLED:
            raise InvalidTransition("A cancelled campaign cannot be published.",
                                    current=str(campaign.status))
        if slug is not None:
            chosen = check_slug(slug)
            if db_archive.slug_taken(conn, chosen, campaign.id):
                raise Conflict(f"The archive slug {chosen!r} is taken.", field="slug")
        else:
            chosen = campaign.archive_slug or _free_slug(conn, slugify(campaign.name),
                                                         campaign.id)
        published = db_campaigns.update_campaign(conn, campaign.id, now, archive=True,
                                                 archive_slug=chosen)
        events.record(conn, "campaign.published", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id, data={"slug": chosen})
    return published


def unpublish(db: Database, ref: str, *, actor: str | None = None) -> Campaign:
    """Take a campaign off the archive (its slug is kept for a later publish)."""
    now = utcnow()
    with db.write() as conn:
        campaign = campaigns.find(conn, ref)
        hidden = db_campaigns.update_campaign(conn, campaign.id, now, archive=False)
        events.record(conn, "campaign.unpublished", now, actor=actor, subject_type="campaign",
                      subject_id=campaign.id)
    return hidden


def issues(db: Database, *, page: int = 1, per_page: int = PER_PAGE
           ) -> tuple[list[Campaign], int]:
    """One page of published issues, newest first, and how many there are in all."""
    page = max(1, page)
    with db.read() as conn:
        return (db_archive.issues(conn, limit=per_page, offset=(page - 1) * per_page),
                db_archive.count(conn))


def issue(db: Database, slug: str) -> Campaign:
    """The published issue at ``/archive/<slug>`` (a slug, or the uid of one without)."""
    found = None
    if _SLUG.match(slug) or looks_like_uid(slug):
        with db.read() as conn:
            found = db_archive.issue(conn, slug)
    if found is None:
        raise NotFound("There is no such issue in the archive.")
    return found


def render(db: Database, campaign: Campaign, *, site: Site, tokens: TokenSigner) -> Issue:
    """``campaign`` as the archive shows it (see the module docstring)."""
    shown = campaigns.preview_for(db, campaign, PLACEHOLDER, site=site, tokens=tokens)
    neutral = f"{site.base_url}/subscribe"
    personal = re.compile(re.escape(site.base_url) + r"/(?:u|preferences)/[A-Za-z0-9_-]+")
    html = personal.sub(neutral, shown.html)
    text = personal.sub(neutral, shown.text)
    subject = dict(shown.headers).get("Subject", campaign.name)
    return Issue(slug=campaign.archive_slug or campaign.uid, subject=subject,
                 published_at=campaign.started_at or campaign.updated_at,
                 html=_cleaner().clean(html), text=text)
