"""What every part of the worker shares: database, transport, message builders, policy."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection

from tidings.db.database import Database
from tidings.db.deliveries import Reader
from tidings.delivery.retry import RetryPolicy
from tidings.delivery.transport import Transport
from tidings.domain.campaigns import Campaign

if TYPE_CHECKING:
    from tidings.delivery.rendering import RenderPool


class Message(Protocol):
    """A finished message with its envelope (``tidings.mail``'s ``Outgoing``).

    ``data`` is SMTP ``DATA`` content as it is: CRLF lines, no line starting with ``.``.
    """

    @property
    def envelope_from(self) -> str: ...

    @property
    def recipient(self) -> str: ...

    @property
    def data(self) -> bytes: ...


class Renderer(Protocol):
    """A campaign compiled once; renders one reader's message cheaply."""

    def render(self, reader: Reader) -> Message: ...


Composer = Callable[[Database, Campaign], Renderer]
"""Compiles a campaign (once per run), reading what it needs from the database."""

SystemBuilder = Callable[[Database, str, str, dict[str, Any]], Message]
"""Builds a transactional message from an outbox row's (kind, to_email, payload)."""

RefusalHandler = Callable[[Connection, int | None, Sequence[tuple[int, int, str]], datetime],
                          None]
"""Acts on permanent SMTP refusals, given as (subscriber id, code, answer), of a campaign's
messages (its id) or of transactional ones (None), inside the transaction that records
them (``tidings.services.bounces.smtp_refusals``)."""


def new_holder() -> str:
    """A worker identity: host, process and a random part (``host:pid:hex``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """Whether ``holder`` was a process on this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: its own runs release what they hold
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Engine:
    """The parts a campaign run or an outbox pass needs."""

    db: Database
    transport: Transport
    compose: Composer
    build_system: SystemBuilder
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    outbox_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(base=30.0, cap=1800.0, max_attempts=10))
    holder: str = field(default_factory=new_holder)
    batch_size: int = 1000
    max_rate: float | None = None  # messages per second the transport allows, if limited
    lease_ttl: float = 30.0
    stall_timeout: float = 900.0  # seconds without an answer while messages wait: pause
    render_pool: RenderPool | None = None  # processes that render; None: render inline
    refusals: RefusalHandler | None = None  # None: refusals are only ledgered
    own_db: bool = False  # ``db`` was opened for the engine: dispose of it when done

    def chunk_size(self) -> int:
        """How many readers to claim at once: about half a second of sending."""
        if self.max_rate is None:
            return self.batch_size
        return max(1, min(self.batch_size, int(self.max_rate / 2)))
