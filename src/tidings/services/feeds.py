"""RSS-to-email: register a feed; on its schedule, new items become a digest campaign.

A feed is fetched with :class:`~tidings.services.fetcher.Fetcher` (public addresses
only, size and time caps) and read with feedparser (RSS 0.9x/1.0/2.0 and Atom;
documents declaring XML entities are refused outright). Each run takes the items not
shown before (newest first, at most :data:`~tidings.domain.feeds.MAX_ITEMS`), renders
them (title, excerpt, image when there is one, link) into the HTML body of a new
campaign to the feed's lists with the feed's layout, and remembers them, all in one
transaction. The digest is sent at once when the feed says ``auto_send``, otherwise
it waits as a draft for an editor. A run that comes more than
``campaigns.late_grace_minutes`` after its time (the server was down) always leaves
a draft.

Feed text never becomes template code: the digest's HTML is escaped and wrapped in
``{% raw %}``, and ``{%`` inside feed text is broken up so it cannot end that block.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from time import struct_time
from typing import Any

import feedparser
import jinja2
import nh3
from sqlalchemy import Connection

from tidings.db import campaigns as db_campaigns
from tidings.db import events
from tidings.db import feeds as db_feeds
from tidings.db.database import Database
from tidings.domain import feeds as domain
from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.errors import FeedUnavailable, NotFound, TidingsError, ValidationError
from tidings.domain.feeds import MAX_ITEMS, Feed, Frequency, Item
from tidings.domain.ids import as_internal_id, looks_like_uid, new_uid
from tidings.domain.lists import check_name
from tidings.domain.timezones import utcnow, zone
from tidings.services import campaigns as campaign_service
from tidings.services import sending
from tidings.services.fetcher import Fetcher, check_url
from tidings.services.lists import find as find_list

log = logging.getLogger("tidings.feeds")

EXCERPT_CHARS = 300
RETRY_AFTER = timedelta(minutes=30)
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.I)
_SPACE = re.compile(r"\s+")

_DIGEST = """\
<h1>{{ title }}</h1>
{% for item in items %}
<h2><a href="{{ item.link }}">{{ item.title }}</a></h2>
{% if item.image %}<p><a href="{{ item.link }}"><img src="{{ item.image }}" alt="" \
width="560" style="max-width: 100%; height: auto;"></a></p>{% endif %}
{% if item.excerpt %}<p>{{ item.excerpt }}</p>{% endif %}
<p><a href="{{ item.link }}">Read more</a></p>
{% if not loop.last %}<hr>{% endif %}
{% endfor %}
"""


@dataclass(frozen=True, slots=True)
class Parsed:
    title: str
    items: list[Item]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did: the digest (None when nothing was new) and whether it started."""

    feed: Feed
    campaign: Campaign | None
    items: int
    started: bool


# Reading a feed ------------------------------------------------------------------------------

def parse(content: bytes) -> Parsed:
    """The feed's title and items, newest first; :class:`FeedUnavailable` if it is none."""
    if _ENTITY.search(content):
        raise FeedUnavailable("The feed declares XML entities; Tidings refuses such documents.")
    parsed = feedparser.parse(content)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedUnavailable("This is not an RSS or Atom feed"
                              + (f" ({reason})." if reason else "."))
    items = [_item(entry) for entry in parsed.entries[:1000]]
    items = [item for item in items if item.link]
    items.sort(key=lambda i: i.published or datetime.min.replace(tzinfo=UTC), reverse=True)
    return Parsed(_text(parsed.feed.get("title", "")) or "Digest", items)


def _item(entry: Any) -> Item:
    link = _web_url(entry.get("link", ""))
    title = _text(entry.get("title", "")) or link
    summary = entry.get("summary", "")
    contents = entry.get("content") or []
    body = contents[0].get("value", "") if contents else ""
    identity = entry.get("id") or link or f"{title}\n{summary}"
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return Item(
        guid=hashlib.sha256(str(identity).encode("utf-8")).hexdigest(),
        title=title[:500],
        link=link,
        excerpt=_excerpt(summary or body),
        image=_image(entry, summary + body),
        published=_moment(published),
    )


def _moment(value: struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _text(markup: str) -> str:
    """Plain text of a bit of HTML, whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(nh3.clean(str(markup), tags=set()))).strip()


def _excerpt(markup: str) -> str:
    text = _text(markup)
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return cut + "…"


def _web_url(value: Any) -> str:
    url = str(value or "").strip()
    if len(url) > 2000 or not re.match(r"https?://[^\s]+\Z", url, re.I):
        return ""
    return url


def _image(entry: Any, markup: str) -> str:
    candidates: list[Any] = [t.get("url") for t in entry.get("media_thumbnail") or []]
    candidates += [m.get("url") for m in entry.get("media_content") or []
                   if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")]
    candidates += [e.get("href") for e in entry.get("enclosures") or []
                   if str(e.get("type", "")).startswith("image/")]
    candidates += _IMG.findall(markup)
    for candidate in candidates:
        url = _web_url(html.unescape(str(candidate or "")))
        if url:
            return url
    return ""


# The digest ----------------------------------------------------------------------------------

@cache
def _digest_template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_DIGEST)


def _inert(text: str) -> str:
    """Text that cannot close a ``{% raw %}`` block (a zero-width non-joiner after ``{``)."""
    return text.replace("{%", "{\u200c%")


def _inert_url(url: str) -> str:
    return url.replace("{", "%7B").replace("}", "%7D")


def digest_body(title: str, items: Sequence[Item]) -> str:
    """The HTML body of a digest: every value escaped, the whole inert as a template."""
    rendered = _digest_template().render(
        title=_inert(title),
        items=[{"title": _inert(i.title), "link": _inert_url(i.link),
                "excerpt": _inert(i.excerpt), "image": _inert_url(i.image)} for i in items])
    return "{% raw %}" + rendered + "{% endraw %}"


# Registering feeds --------------------------------------------------------------------------

def add(db: Database, *, name: str, url: str, lists: Sequence[str], send_time: str,
        frequency: Frequency = Frequency.DAILY, weekday: int | str | None = None,
        timezone: str = "UTC", subject: str | None = None, template_id: int | None = None,
        auto_send: bool = False, include_existing: bool = False,
        fetcher: Fetcher | None = None, actor: str | None = None) -> Feed:
    """Register a feed after fetching it once to make sure it is one.

    The items it has now are remembered as shown, so the first digest brings only
    what is new, unless ``include_existing``.
    """
    values = _check(name=name, url=url, send_time=send_time, frequency=frequency,
                    weekday=weekday, timezone=timezone, subject=subject or name,
                    auto_send=auto_send)
    parsed = parse((fetcher or Fetcher()).fetch(values["url"]).content)
    now = utcnow()
    with db.write() as conn:
        list_ids = _list_ids(conn, lists)
        values["template_id"] = campaign_service.layout_id(conn, template_id)
        values.update(uid=new_uid(), list_ids=list_ids, enabled=True, next_run_at=domain.next_run(
            now, Frequency(values["frequency"]), values["weekday"], values["send_time"],
            zone(values["timezone"])))
        created = db_feeds.insert_feed(conn, values, now)
        if not include_existing:
            db_feeds.remember(conn, created.id, list(dict.fromkeys(i.guid for i in parsed.items)),
                              None, now)
        events.record(conn, "feed.created", now, actor=actor, subject_type="feed",
                      subject_id=created.id, data={"url": created.url})
    return created


def _check(*, name: str, url: str, send_time: str, frequency: Frequency | str,
           weekday: int | str | None, timezone: str, subject: str,
           auto_send: bool) -> dict[str, Any]:
    try:
        freq = Frequency(frequency)
    except ValueError:
        raise ValidationError("The frequency is daily or weekly.", field="frequency") from None
    zone(timezone)
    clean_subject, _ = campaign_service.check_content(subject, "", BodyFormat.HTML)
    return {"name": check_name(name), "url": check_url(url),
            "send_time": domain.check_send_time(send_time), "frequency": str(freq),
            "weekday": domain.check_weekday(freq, weekday), "timezone": timezone,
            "subject": clean_subject, "auto_send": bool(auto_send)}


def _list_ids(conn: Connection, lists: Sequence[str]) -> list[int]:
    ids = list(dict.fromkeys(find_list(conn, ref).id for ref in lists))
    if not ids:
        raise ValidationError("A digest goes to at least one list.", field="lists")
    return ids


def update(db: Database, ref: str, *, name: str | None = None, url: str | None = None,
           lists: Sequence[str] | None = None, send_time: str | None = None,
           frequency: Frequency | str | None = None, weekday: int | str | None = None,
           timezone: str | None = None, subject: str | None = None,
           template_id: int | None = None, auto_send: bool | None = None,
           enabled: bool | None = None, fetcher: Fetcher | None = None,
           actor: str | None = None) -> Feed:
    """Change a feed; arguments left None stay. A new URL is fetched first."""
    with db.read() as conn:
        current = find(conn, ref)
    values = _check(
        name=current.name if name is None else name, url=current.url if url is None else url,
        send_time=current.send_time if send_time is None else send_time,
        frequency=current.frequency if frequency is None else frequency,
        weekday=current.weekday if weekday is None else weekday,
        timezone=current.timezone if timezone is None else timezone,
        subject=current.subject if subject is None else subject,
        auto_send=current.auto_send if auto_send is None else auto_send)
    if values["url"] != current.url:
        parse((fetcher or Fetcher()).fetch(values["url"]).content)
    now = utcnow()
    with db.write() as conn:
        current = find(conn, ref)
        if lists is not None:
            values["list_ids"] = _list_ids(conn, lists)
        if template_id is not None:
            values["template_id"] = campaign_service.layout_id(conn, template_id)
        if enabled is not None:
            values["enabled"] = bool(enabled)
        values["next_run_at"] = domain.next_run(
            now, Frequency(values["frequency"]), values["weekday"], values["send_time"],
            zone(values["timezone"]))
        changed = db_feeds.update_feed(conn, current.id, now, **values)
        events.record(conn, "feed.updated", now, actor=actor, subject_type="feed",
                      subject_id=current.id)
    return changed


def delete(db: Database, ref: str, *, actor: str | None = None) -> Feed:
    """Delete a feed and its memory of items (its digests stay)."""
    now = utcnow()
    with db.write() as conn:
        found = find(conn, ref)
        db_feeds.delete_feed(conn, found.id)
        events.record(conn, "feed.deleted", now, actor=actor, subject_type="feed",
                      subject_id=found.id, data={"url": found.url})
    return found


def find(conn: Connection, ref: str) -> Feed:
    ref = ref.strip()
    found = db_feeds.get_by_uid(conn, ref) if looks_like_uid(ref) else None
    if found is None and as_internal_id(ref) is not None:
        found = db_feeds.get(conn, int(ref))
    if found is None:
        raise NotFound(f"No feed {ref!r}.")
    return found


def get(db: Database, ref: str) -> Feed:
    with db.read() as conn:
        return find(conn, ref)


def all_feeds(db: Database) -> list[Feed]:
    with db.read() as conn:
        return db_feeds.all_feeds(conn)


# Running feeds ------------------------------------------------------------------------------

def run(db: Database, ref: str, *, fetcher: Fetcher | None = None, now: datetime | None = None,
        allow_auto_send: bool = True, actor: str | None = None) -> RunResult:
    """Fetch the feed now and make a digest of what is new (None if nothing is).

    The digest starts sending when the feed has ``auto_send`` and ``allow_auto_send``.
    Raises :class:`FeedUnavailable` when the feed cannot be fetched or read (and
    records why on the feed).
    """
    now = now or utcnow()
    feed = get(db, ref)
    try:
        parsed = parse((fetcher or Fetcher()).fetch(feed.url).content)
    except FeedUnavailable as exc:
        _failed(db, feed, exc.message, now)
        raise
    with db.write() as conn:
        feed = find(conn, ref)
        known = db_feeds.seen(conn, feed.id, [i.guid for i in parsed.items])
        fresh = list({i.guid: i for i in parsed.items if i.guid not in known}.values())
        fresh = fresh[:MAX_ITEMS]
        next_at = domain.next_run(now, feed.frequency, feed.weekday, feed.send_time,
                                  zone(feed.timezone))
        campaign = None
        if fresh:
            campaign = _digest(conn, feed, parsed.title, fresh, now)
            db_feeds.remember(conn, feed.id, [i.guid for i in fresh], campaign.id, now)
            events.record(conn, "feed.digest", now, actor=actor, subject_type="feed",
                          subject_id=feed.id, data={"campaign": campaign.uid,
                                                    "items": len(fresh)})
        feed = db_feeds.update_feed(conn, feed.id, now, last_run_at=now, next_run_at=next_at,
                                    last_error=None)
    started = False
    if campaign is not None and feed.auto_send and allow_auto_send:
        campaign = sending.start(db, campaign.uid, actor="feed")
        started = True
    return RunResult(feed, campaign, len(fresh), started)


def _digest(conn: Connection, feed: Feed, title: str, items: Sequence[Item],
            now: datetime) -> Campaign:
    body = digest_body(feed.name or title, items)
    subject, body = campaign_service.check_content(feed.subject, body, BodyFormat.HTML)
    day = now.astimezone(zone(feed.timezone)).date().isoformat()
    values: dict[str, Any] = {
        "uid": new_uid(), "name": check_name(f"{feed.name} – {day}"[:200]),
        "subject": subject, "body": body, "body_format": str(BodyFormat.HTML),
        "template_id": campaign_service.layout_id(conn, feed.template_id), "segment_id": None,
        "status": str(CampaignStatus.DRAFT), "extra": {"feed": feed.uid},
    }
    return db_campaigns.insert_campaign(conn, values, list(feed.list_ids), now)


def _failed(db: Database, feed: Feed, reason: str, now: datetime) -> None:
    next_slot = domain.next_run(now, feed.frequency, feed.weekday, feed.send_time,
                                zone(feed.timezone))
    with db.write() as conn:
        db_feeds.update_feed(conn, feed.id, now, last_run_at=now, last_error=reason[:2000],
                             next_run_at=min(now + RETRY_AFTER, next_slot))
        events.record(conn, "feed.failed", now, actor="scheduler", subject_type="feed",
                      subject_id=feed.id, data={"error": reason[:500]})


def run_due(db: Database, now: datetime, *, late: timedelta,
            fetcher: Fetcher | None = None) -> list[Campaign]:
    """Run every feed whose time has come; return the digests that started sending.

    A run more than ``late`` after its time keeps its digest as a draft. A failing feed
    is recorded (``last_error``) and retried in half an hour; it never stops the others.
    """
    with db.read() as conn:
        due = [db_feeds.get_by_uid(conn, uid) for uid in db_feeds.due(conn, now)]
    started = []
    for feed in due:
        if feed is None or feed.next_run_at is None:
            continue
        on_time = now - feed.next_run_at <= late
        try:
            result = run(db, feed.uid, fetcher=fetcher, now=now, allow_auto_send=on_time,
                         actor="scheduler")
        except FeedUnavailable as exc:
            log.warning("feed %s (%s): %s", feed.uid, feed.url, exc.message)
            continue
        except TidingsError as exc:
            log.warning("feed %s: the digest could not be made: %s", feed.uid, exc.message)
            _failed(db, feed, exc.message, now)
            continue
        if result.started and result.campaign is not None:
            started.append(result.campaign)
    return started
