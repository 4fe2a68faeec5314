"""Request and response bodies of the API, shared by every resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

# Path references: slugs, public ids, addresses. Control characters never match.
REF_PATTERN = r"^[^\x00-\x1f\x7f]{1,320}$"


class Problem(BaseModel):
    """An RFC 7807 problem: every error answer of the API."""

    type: str = Field(examples=["https://tidings.dev/problems/NotFound"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["No list 'daily'."])
    field: str | None = Field(default=None, description="The input the problem is about.")


class Page(BaseModel, Generic[T]):
    """One page of a collection; pass ``next_cursor`` as ``cursor`` for the next."""

    data: list[T]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page.")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text,
             "content": {"application/problem+json": {}}}
    for status, text in (
        (401, "No API key, or an unknown or revoked one."),
        (403, "The key's role does not allow this."),
        (404, "Not found."),
        (409, "Conflicts with what exists, or a state change that is not allowed."),
        (422, "The input is invalid."),
        (429, "Too many requests."),
    )
}


class Stamped(BaseModel):
    created_at: datetime
    updated_at: datetime
