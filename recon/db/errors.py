"""Database errors in the service's words: the one place a driver's error becomes ours.

A write that breaks a constraint (a unique key, a foreign key, a check) raises SQLAlchemy's
`IntegrityError` whatever the driver; `domain_error` makes it a `Conflict` (HTTP 409, CLI exit
4) that says so. Both the HTTP exception handlers (`recon.system.errors`) and the CLI's entry
point (`recon.cli.main`) call it. Where a conflict is expected and has a better name (a held
lease), the code catches it itself.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from recon.errors import Conflict

_DRIVER_PREFIX = "<class '"  # asyncpg's message starts with its exception class


def domain_error(exc: IntegrityError) -> Conflict:
    """The conflict a broken constraint means, with the database's own first line of why."""
    reason = str(exc.orig).strip() if exc.orig is not None else ""
    if reason.startswith(_DRIVER_PREFIX) and ">: " in reason:
        reason = reason.split(">: ", 1)[1]
    first = reason.splitlines()[0].strip() if reason else "a constraint was broken"
    return Conflict(f"the change conflicts with what is stored: {first}")
