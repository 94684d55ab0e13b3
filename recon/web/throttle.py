"""Login throttling, counted in the `login_attempts` table.

A username with MAX_USER_FAILURES (5) failed logins in the last WINDOW (15 minutes), counted
since its last successful login, or an address with MAX_ADDRESS_FAILURES (20) failed logins in
the window (whatever the usernames), is refused with 429 until enough of those failures are
older than the window, even with the right password. Refused attempts are not counted, so
an attacker who keeps trying does not push the lockout further out; the user waits at most
15 minutes after the last counted failure.

An attempt is recorded as a failure *before* its password is checked (and marked succeeded
after), so that parallel guesses see one another: no burst of simultaneous requests gets more
tries than the limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
# attempts older than this are deleted by the next login (nothing reads them any more)
KEEP_ATTEMPTS = timedelta(days=1)


async def begin_attempt(
    *, db_session: AsyncSession, username: str, address: str, now: datetime
) -> int:
    """Record an attempt as failed until proven otherwise; returns its id."""
    await db_session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP_ATTEMPTS))
    attempt = LoginAttempt(at=now, username=username[:64], address=address[:64], succeeded=False)
    db_session.add(attempt)
    await db_session.commit()
    return attempt.id


async def locked_until(
    *, db_session: AsyncSession, attempt_id: int, username: str, address: str, now: datetime
) -> datetime | None:
    """When the attempt's username or address may try again, if the attempt is refused."""
    since = now - WINDOW
    last_success = (
        await db_session.execute(
            select(func.max(LoginAttempt.id)).where(
                LoginAttempt.username == username[:64], LoginAttempt.succeeded
            )
        )
    ).scalar_one()
    limits = (
        (LoginAttempt.username == username[:64], last_success or 0, MAX_USER_FAILURES),
        (LoginAttempt.address == address[:64], 0, MAX_ADDRESS_FAILURES),
    )
    until: datetime | None = None
    for who, after_id, limit in limits:
        free_at = await _free_at(db_session, who, after_id, attempt_id, since, limit)
        if free_at is not None and (until is None or free_at > until):
            until = free_at
    return until


async def _free_at(
    db_session: AsyncSession,
    who: ColumnElement[bool],
    after_id: int,
    attempt_id: int,
    since: datetime,
    limit: int,
) -> datetime | None:
    """None if fewer than `limit` failures (after attempt `after_id`, in the window) came
    before this attempt; else when the oldest of the latest `limit` leaves the window."""
    failures = (
        await db_session.execute(
            select(LoginAttempt.at)
            .where(
                who,
                LoginAttempt.id > after_id,
                LoginAttempt.id < attempt_id,
                LoginAttempt.at > since,
                LoginAttempt.succeeded.is_(False),
            )
            .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
            .limit(limit)
        )
    ).scalars()
    latest = list(failures)
    if len(latest) < limit:
        return None
    return latest[-1] + WINDOW


async def forget_attempt(*, db_session: AsyncSession, attempt_id: int) -> None:
    """A refused attempt does not count (it would push the lockout further out)."""
    await db_session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
    await db_session.commit()


async def attempt_succeeded(*, db_session: AsyncSession, attempt_id: int) -> None:
    """Mark the attempt a success (committed by the caller, with the session it starts)."""
    await db_session.execute(
        update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True)
    )
