"""The initial schema: every table of ARCHITECTURE.md.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tidings.db.types import UTCDateTime

# Column types as in tidings.db.types, spelled out so this migration never changes.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = UTCDateTime(timezone=True)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_texts",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_consent_texts")),
    )
    op.create_table(
        "events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("data", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_events_subject", ["subject_type", "subject_id"], unique=False)

    op.create_table(
        "imports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("total_bytes", ID, nullable=True),
        sa.Column("processed_bytes", ID, server_default="0", nullable=False),
        sa.Column("imported", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sa.UniqueConstraint("uid", name=op.f("uq_imports_uid")),
    )
    op.create_table(
        "lists",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("optin", sa.String(length=16), nullable=False),
        sa.Column("welcome_subject", sa.String(length=400), nullable=True),
        sa.Column("welcome_body", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("slug", name=op.f("uq_lists_slug")),
        sa.UniqueConstraint("uid", name=op.f("uq_lists_uid")),
    )
    op.create_table(
        "segments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filter", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("uid", name=op.f("uq_segments_uid")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("attributes", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="enabled", nullable=False),
        sa.Column("import_consent_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("uid", name=op.f("uq_subscribers_uid")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index("ix_subscribers_created_at", ["created_at"], unique=False)
    op.create_index("ux_subscribers_email", "subscribers", [sa.text("lower(email)")], unique=True)
    op.create_index("ix_subscribers_name", "subscribers", [sa.text("lower(name)")])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_subscribers_attributes", "subscribers", ["attributes"],
                        postgresql_using="gin", postgresql_ops={"attributes": "jsonb_path_ops"})

    op.create_table(
        "suppressions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "templates",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("uid", name=op.f("uq_templates_uid")),
    )
    op.create_index("ux_templates_default", "templates", ["is_default"], unique=True,
                    sqlite_where=sa.text("is_default IS 1"),
                    postgresql_where=sa.text("is_default IS true"))
    op.create_table(
        "users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", ID, nullable=True),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("uid", name=op.f("uq_users_uid")),
    )
    op.create_index("ux_users_email", "users", [sa.text("lower(email)")], unique=True)
    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", TS, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttles")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("uid", name=op.f("uq_api_keys_uid")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("from_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("from_email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("reply_to", sa.String(length=320), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_format", sa.String(length=16), nullable=False),
        sa.Column("template_id", ID, nullable=True),
        sa.Column("segment_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", TS, nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("audience_max_id", ID, nullable=True),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_at", TS, nullable=True),
        sa.Column("archive", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("archive_slug", sa.String(length=200), nullable=True),
        sa.Column("extra", JSON, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_campaigns_segment_id_segments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_campaigns_template_id_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("archive_slug", name=op.f("uq_campaigns_archive_slug")),
        sa.UniqueConstraint("uid", name=op.f("uq_campaigns_uid")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_status_scheduled", ["status", "scheduled_at"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subscriber_id", ID, nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("list_ids", JSON, nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("api_key_id", ID, nullable=True),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_consents_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["text_hash"], ["consent_texts.hash"], name=op.f("fk_consents_text_hash_consent_texts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consents_subscriber", ["subscriber_id", "created_at"], unique=False
        )

    op.create_table(
        "feeds",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=22), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("send_time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("list_ids", JSON, nullable=False),
        sa.Column("template_id", ID, nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("auto_send", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("last_run_at", TS, nullable=True),
        sa.Column("next_run_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_feeds_template_id_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("uid", name=op.f("uq_feeds_uid")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("subscriber_id", ID, nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_outbox_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
    op.create_index(
        "ix_outbox_recipient",
        "outbox",
        [sa.text("lower(to_email)"), "kind", "created_at"],
        unique=False,
    )

    op.create_table(
        "bounces",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subscriber_id", ID, nullable=True),
        sa.Column("campaign_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.String(length=16), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_bounces_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounces_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
    )
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bounces_subscriber", ["subscriber_id", "created_at"], unique=False
        )

    op.create_table(
        "campaign_lists",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("list_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_lists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_campaign_lists_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "list_id", name=op.f("pk_campaign_lists")),
    )
    op.create_table(
        "deliveries",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("subscriber_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("smtp_response", sa.String(length=512), nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_deliveries_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_deliveries_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "subscriber_id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_campaign_status", ["campaign_id", "status"], unique=False
        )
        batch_op.create_index("ix_deliveries_subscriber", ["subscriber_id"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )

    op.create_table(
        "feed_items",
        sa.Column("feed_id", ID, nullable=False),
        sa.Column("guid", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", ID, nullable=True),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_feed_items_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_items_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("feed_id", "guid", name=op.f("pk_feed_items")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("subscriber_id", ID, nullable=False),
        sa.Column("list_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_id", ID, nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("unsubscribed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_subscriptions_consent_id_consents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["lists.id"],
            name=op.f("fk_subscriptions_list_id_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriptions_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "list_id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_list_status", ["list_id", "status", "subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_list_status")

    op.drop_table("subscriptions")
    op.drop_table("feed_items")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_subscriber")
        batch_op.drop_index("ix_deliveries_campaign_status")

    op.drop_table("deliveries")
    op.drop_table("leases")
    op.drop_table("campaign_lists")
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_bounces_subscriber")

    op.drop_table("bounces")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    op.drop_table("feeds")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_subscriber")

    op.drop_table("consents")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_status_scheduled")

    op.drop_table("campaigns")
    op.drop_table("api_keys")
    op.drop_table("throttles")
    op.drop_table("users")
    op.drop_table("templates")
    op.drop_table("suppressions")
    op.drop_index("ix_subscribers_name", "subscribers")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_created_at")

    op.drop_table("subscribers")
    op.drop_table("settings")
    op.drop_table("segments")
    op.drop_table("lists")
    op.drop_table("imports")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_subject")
        batch_op.drop_index("ix_events_created_at")

    op.drop_table("events")
    op.drop_table("consent_texts")
