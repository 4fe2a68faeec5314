"""The schema, as SQLAlchemy Core tables. Migrations in ``db/migrations`` build it.

Index choices are for 10M subscribers and campaigns of that size:

* ``ux_subscribers_email`` on ``lower(email)``: case-insensitive uniqueness and the
  conflict target of every upsert (imports, signups, the API).
* ``ix_subscriptions_list_status`` on ``(list_id, status, subscriber_id)``: the
  campaign audience walk (keyset over subscriber_id within confirmed members of a
  list) and per-list counts are index-only range scans.
* deliveries are keyed ``(campaign_id, subscriber_id)``: the ledger lookup for a
  batch is one range, and uniqueness makes "send at most once" a constraint.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)

from tidings.db.types import Id, Json, UTCDateTime

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _timestamps() -> tuple[Column[object], Column[object]]:
    return (
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


lists = Table(
    "lists", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text(), nullable=False, server_default=""),
    Column("visibility", String(16), nullable=False),
    Column("optin", String(16), nullable=False),
    Column("welcome_subject", String(400), nullable=True),
    Column("welcome_body", Text(), nullable=True),
    *_timestamps(),
)

subscribers = Table(
    "subscribers", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("attributes", Json, nullable=False, server_default=text("'{}'")),
    Column("status", String(16), nullable=False, server_default="enabled"),
    # The consent record of the import that added the subscriber: one record per import,
    # shared by every subscriber it created (see docs/importing.md). No foreign key: such
    # records belong to no one subscriber and are never deleted, and a key would cost a
    # check per imported row.
    Column("import_consent_id", Id, nullable=True),
    *_timestamps(),
    # Never reuse the id of an erased subscriber: links in mail already sent carry it.
    sqlite_autoincrement=True,
)
Index("ux_subscribers_email", func.lower(subscribers.c.email), unique=True)
Index("ix_subscribers_created_at", subscribers.c.created_at)
# The admin's and the API's search by the start of a name (the address has ux_ above).
Index("ix_subscribers_name", func.lower(subscribers.c.name))
# Segments test attributes for equality with JSONB containment (@>), which this index
# serves for every attribute path at once (PostgreSQL only; see docs/editors.md).
Index("ix_subscribers_attributes", subscribers.c.attributes, postgresql_using="gin",
      postgresql_ops={"attributes": "jsonb_path_ops"}).ddl_if(dialect="postgresql")

subscriptions = Table(
    "subscriptions", metadata,
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("list_id", Id, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("consent_id", Id, ForeignKey("consents.id", ondelete="SET NULL"), nullable=True),
    Column("confirmed_at", UTCDateTime(), nullable=True),
    Column("unsubscribed_at", UTCDateTime(), nullable=True),
    *_timestamps(),
)
Index("ix_subscriptions_list_status", subscriptions.c.list_id, subscriptions.c.status,
      subscriptions.c.subscriber_id)

consent_texts = Table(
    "consent_texts", metadata,
    Column("hash", String(64), primary_key=True),  # sha256 hex of the exact text shown
    Column("text", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

consents = Table(
    "consents", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # NULL for an import's shared record (``subscribers.import_consent_id`` points at it).
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"),
           nullable=True),
    Column("action", String(32), nullable=False),   # signup, confirm, change, unsubscribe, ...
    Column("source", String(32), nullable=False),   # form, embed, api, import, admin, ...
    Column("list_ids", Json, nullable=False),
    Column("text_hash", String(64), ForeignKey("consent_texts.hash"), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("api_key_id", Id, nullable=True),
    Column("user_id", Id, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,  # confirmation links carry consent ids
)
Index("ix_consents_subscriber", consents.c.subscriber_id, consents.c.created_at)

templates = Table(
    "templates", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("body", Text(), nullable=False),
    Column("is_default", Boolean(), nullable=False, server_default=text("false")),
    *_timestamps(),
)
Index("ux_templates_default", templates.c.is_default, unique=True,
      sqlite_where=templates.c.is_default.is_(True),
      postgresql_where=templates.c.is_default.is_(True))  # at most one default

segments = Table(
    "segments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("filter", Json, nullable=False),
    *_timestamps(),
)

campaigns = Table(
    "campaigns", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("from_name", String(200), nullable=False, server_default=""),
    Column("from_email", String(320), nullable=False, server_default=""),
    Column("reply_to", String(320), nullable=False, server_default=""),
    Column("body", Text(), nullable=False),
    Column("body_format", String(16), nullable=False),
    Column("template_id", Id, ForeignKey("templates.id", ondelete="SET NULL"), nullable=True),
    Column("segment_id", Id, ForeignKey("segments.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("scheduled_at", UTCDateTime(), nullable=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("audience_max_id", Id, nullable=True),  # the frozen upper bound of subscriber ids
    Column("total", Integer(), nullable=False, server_default="0"),
    Column("sent", Integer(), nullable=False, server_default="0"),
    Column("failed", Integer(), nullable=False, server_default="0"),
    Column("progress_at", UTCDateTime(), nullable=True),
    Column("archive", Boolean(), nullable=False, server_default=text("false")),
    Column("archive_slug", String(200), nullable=True, unique=True),
    Column("extra", Json, nullable=False, server_default=text("'{}'")),
    Column("created_by", Id, nullable=True),
    *_timestamps(),
)
Index("ix_campaigns_status_scheduled", campaigns.c.status, campaigns.c.scheduled_at)

campaign_lists = Table(
    "campaign_lists", metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", Id, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
)

deliveries = Table(
    "deliveries", metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("smtp_code", Integer(), nullable=True),
    Column("smtp_response", String(512), nullable=True),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
)
Index("ix_deliveries_campaign_status", deliveries.c.campaign_id, deliveries.c.status)
Index("ix_deliveries_subscriber", deliveries.c.subscriber_id)

# Who is sending a campaign right now ("campaign:<id>"), and which workers are alive
# ("worker:<holder>"); a lease past expires_at is free for the taking.
leases = Table(
    "leases", metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

bounces = Table(
    "bounces", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(16), nullable=False),      # hard, soft, complaint, sender_config
    Column("source", String(32), nullable=False),    # smtp, dsn, arf, webhook, api
    Column("status_code", String(16), nullable=True),
    Column("diagnostic", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_bounces_subscriber", bounces.c.subscriber_id, bounces.c.created_at)

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("totp_secret", String(64), nullable=True),
    Column("totp_last_step", Id, nullable=True),  # the last TOTP time step used: no replay
    Column("session_version", Integer(), nullable=False, server_default="1"),
    Column("is_active", Boolean(), nullable=False, server_default=text("true")),
    Column("last_login_at", UTCDateTime(), nullable=True),
    *_timestamps(),
)
Index("ux_users_email", func.lower(users.c.email), unique=True)

# Failed sign-ins per account and per address, for login throttling (keys are hashed).
throttles = Table(
    "throttles", metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer(), nullable=False),
    Column("window_started_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_by", Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

settings = Table(
    "settings", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("actor", String(200), nullable=True),
    Column("subject_type", String(32), nullable=True),
    Column("subject_id", Id, nullable=True),
    Column("data", Json, nullable=False, server_default=text("'{}'")),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_events_created_at", events.c.created_at)
Index("ix_events_subject", events.c.subject_type, events.c.subject_id)

suppressions = Table(
    "suppressions", metadata,
    Column("hash", String(64), primary_key=True),  # keyed HMAC of the lower-cased address
    Column("reason", String(32), nullable=False),  # erased, complaint, hard_bounce, manual
    Column("created_at", UTCDateTime(), nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),     # confirmation, welcome, test, password_reset
    Column("to_email", String(320), nullable=False),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True),
    Column("payload", Json, nullable=False),
    Column("status", String(16), nullable=False),   # pending, sent, failed
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", String(512), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)
Index("ix_outbox_recipient", func.lower(outbox.c.to_email), outbox.c.kind, outbox.c.created_at)

imports = Table(
    "imports", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("status", String(16), nullable=False),   # queued, running, finished, failed
    Column("filename", String(255), nullable=False),
    Column("options", Json, nullable=False),
    Column("total_bytes", Id, nullable=True),
    Column("processed_bytes", Id, nullable=False, server_default="0"),
    Column("imported", Integer(), nullable=False, server_default="0"),
    Column("updated", Integer(), nullable=False, server_default="0"),
    Column("skipped", Integer(), nullable=False, server_default="0"),
    Column("report", Text(), nullable=True),
    Column("error", Text(), nullable=True),
    Column("created_by", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
)

feeds = Table(
    "feeds", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(22), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("frequency", String(16), nullable=False),  # daily, weekly
    Column("weekday", Integer(), nullable=True),      # 0 = Monday, for weekly digests
    Column("send_time", String(5), nullable=False),   # HH:MM in the feed's time zone
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("list_ids", Json, nullable=False),
    Column("template_id", Id, ForeignKey("templates.id", ondelete="SET NULL"), nullable=True),
    Column("subject", String(998), nullable=False),
    Column("auto_send", Boolean(), nullable=False, server_default=text("false")),
    Column("enabled", Boolean(), nullable=False, server_default=text("true")),
    Column("last_run_at", UTCDateTime(), nullable=True),
    Column("next_run_at", UTCDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    *_timestamps(),
)

feed_items = Table(
    "feed_items", metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("guid", String(64), primary_key=True),  # sha256 of the item's id or link
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
    Column("first_seen_at", UTCDateTime(), nullable=False),
)
