"""API keys for services and accounts for people.

A key is shown once, as `rk_<key id>_<secret>`; the database keeps the key id and a SHA-256 of
the whole key (a random 256-bit secret needs no slow hash, and every request checks one).
Passwords are people's and weak: they get argon2id, a memory-hard KDF.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.auth.schemas import ApiKeyOut, NewApiKey, UserOut
from recon.db.models import ApiKey, User
from recon.db.reads import Reader
from recon.errors import BadInput, Conflict, FieldError, NotFound
from recon.vocab import ROLES

SCOPES = (
    "dossiers:write",
    "payments:read",
    "cases:read",
    "cases:write",
    "runs:read",
    "ledger:read",
    "days:write",
)
KEY_PREFIX = "rk_"
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: an API key's name and scopes."""

    name: str
    scopes: frozenset[str]


def key_digest(key: str) -> str:
    """What the database keeps of a key, and what names it in the guard's cache."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise BadInput("give at least one --scope")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadInput(f"unknown scope {unknown[0]!r} (scopes: {', '.join(SCOPES)})")
    return sorted(set(scopes))


async def create_api_key(
    *, db_session: AsyncSession, name: str, scopes: list[str], now: datetime
) -> NewApiKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise BadInput("a key's name is 1 to 100 characters")
    checked = check_scopes(scopes)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name, key_id=key_id, key_hash=key_digest(key), scopes=" ".join(checked), created_at=now
    )
    db_session.add(row)
    await db_session.commit()
    return NewApiKey(id=row.id, name=name, scopes=checked, key=key)


async def list_api_keys(*, db_session: AsyncSession) -> list[ApiKeyOut]:
    rows = (await db_session.execute(select(ApiKey).order_by(ApiKey.id))).scalars()
    return [ApiKeyOut.from_row(r, scopes=r.scopes.split()) for r in rows]


async def revoke_api_key(*, db_session: AsyncSession, key_id: int, now: datetime) -> ApiKeyOut:
    row = await db_session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        await db_session.commit()
    return ApiKeyOut.from_row(row, scopes=row.scopes.split())


KEY_ROW = select(ApiKey.name, ApiKey.key_hash, ApiKey.scopes, ApiKey.revoked_at).where(
    ApiKey.key_id == bindparam("key_id")
)


def key_principal(reader: Reader, key: str) -> Principal | None:
    """The key's principal, or None for a malformed, unknown or revoked key (one indexed read,
    run by the guard through `QuickReads`)."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, _ = key.removeprefix(KEY_PREFIX).partition("_")
    if not sep:
        return None
    found = reader.all(KEY_ROW, {"key_id": key_id})
    row = found[0] if found else None
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, key_digest(key)):
        return None
    return Principal(name=row.name, scopes=frozenset(row.scopes.split()))


# --- people -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    *, db_session: AsyncSession, username: str, role: str, password: str, now: datetime
) -> UserOut:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").replace("-", "").isalnum()
    ):
        raise BadInput("a username is 1 to 64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    taken = await db_session.execute(select(User.id).where(User.username == username))
    if taken.first() is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password), created_at=now)
    db_session.add(user)
    await db_session.commit()
    return UserOut(id=user.id, username=username, role=role, created_at=now)


async def find_user(*, db_session: AsyncSession, username: str) -> User:
    user = (
        await db_session.execute(select(User).where(User.username == username.strip()))
    ).scalar_one_or_none()
    if user is None or user.disabled_at is not None:
        reason = f"no active user {username.strip()!r}"
        raise NotFound(reason, [FieldError(field="user", reason=reason)])
    return user
