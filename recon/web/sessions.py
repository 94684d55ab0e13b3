"""Server-side sessions of the web pages, stored in the `web_sessions` table.

The browser holds a random 256-bit token in an HttpOnly cookie; the table keeps only its
SHA-256 (the row's id), so reading the table lets nobody in. A session ends at whichever comes
first:

- 30 minutes without a request (IDLE_TIMEOUT): a desk left unattended;
- 12 hours after login (ABSOLUTE_TIMEOUT): a working day, however busy;
- logout, a new login from the same browser (the old session is revoked: rotation), or the
  user being disabled (every session of theirs is revoked the next time one is used).

`last_seen_at` is written at most once a minute (TOUCH_EVERY), not on every request, so that
reading pages does not queue for SQLite's write lock; the idle limit is that much coarse.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import User, WebSession
from recon.vocab import ROLES

SESSION_COOKIE = "recon_session"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
# ended sessions stay this long (who was signed in from where), then the next login deletes them
KEEP_ENDED = timedelta(days=30)


class LiveSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session that lets its browser in, with its user."""

    id: str
    user_id: int
    username: str
    role: str
    last_seen_at: datetime


def session_id(token: str) -> str:
    """What the table keeps of a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    *,
    db_session: AsyncSession,
    user_id: int,
    now: datetime,
    address: str,
    user_agent: str,
    replaces: str | None = None,
) -> str:
    """A new session for the user; returns the cookie's token. `replaces` (the token the
    browser held before, if any) is revoked: a login never keeps a session id it came with."""
    if replaces:
        await db_session.execute(
            update(WebSession)
            .where(WebSession.id == session_id(replaces), WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    await db_session.execute(delete(WebSession).where(WebSession.expires_at < now - KEEP_ENDED))
    token = secrets.token_urlsafe(32)
    db_session.add(
        WebSession(
            id=session_id(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            address=address[:64],
            user_agent=user_agent[:300],
        )
    )
    await db_session.commit()
    return token


async def find_session(
    *, db_session: AsyncSession, token: str, now: datetime
) -> tuple[LiveSession | None, int | None]:
    """The live session the token names, or None; and, when the token names a session of a
    disabled user, that user's id (the caller revokes their sessions)."""
    row = (
        await db_session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == session_id(token))
        )
    ).one_or_none()
    if row is None:
        return None, None
    web_session, user = row
    if user.disabled_at is not None:
        return None, user.id
    if (
        web_session.revoked_at is not None
        or web_session.expires_at <= now
        or web_session.last_seen_at + IDLE_TIMEOUT <= now
        or user.role not in ROLES
    ):
        return None, None
    live = LiveSession(
        id=web_session.id,
        user_id=user.id,
        username=user.username,
        role=user.role,
        last_seen_at=web_session.last_seen_at,
    )
    return live, None


async def touch_session(*, db_session: AsyncSession, live: LiveSession, now: datetime) -> None:
    """Keep an active session alive (at most one write a minute per session)."""
    if now - live.last_seen_at < TOUCH_EVERY:
        return
    await db_session.execute(
        update(WebSession).where(WebSession.id == live.id).values(last_seen_at=now)
    )
    await db_session.commit()


async def end_session(*, db_session: AsyncSession, token: str, now: datetime) -> None:
    """Logout: the session named by the token can no longer be used."""
    await db_session.execute(
        update(WebSession)
        .where(WebSession.id == session_id(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await db_session.commit()


async def revoke_user_sessions(*, db_session: AsyncSession, user_id: int, now: datetime) -> None:
    """Every session of a user ends (a disabled account keeps none)."""
    await db_session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await db_session.commit()
