"""The shapes of API keys and users as the CLI prints them (DESIGN 6)."""

from __future__ import annotations

from datetime import datetime

from recon.schemas import Out


class ApiKeyOut(Out):
    id: int
    name: str
    scopes: list[str]
    key_id: str
    created_at: datetime
    revoked_at: datetime | None = None


class NewApiKey(Out):
    id: int
    name: str
    scopes: list[str]
    key: str  # shown once, never stored


class UserOut(Out):
    id: int
    username: str
    role: str
    created_at: datetime
