"""A broken constraint is a Conflict, in the same words for HTTP and the CLI."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from recon.db.errors import domain_error
from recon.errors import Conflict


def _integrity_error(message: str) -> IntegrityError:
    return IntegrityError("INSERT …", {}, Exception(message))


def test_a_broken_unique_key_is_a_conflict_naming_it() -> None:
    error = domain_error(_integrity_error("UNIQUE constraint failed: dossier.code_key"))
    assert isinstance(error, Conflict)
    assert error.status_code == 409
    assert error.exit_code == 4
    assert error.detail == (
        "the change conflicts with what is stored: UNIQUE constraint failed: dossier.code_key"
    )


def test_a_postgresql_conflict_keeps_its_first_line_without_the_driver_class() -> None:
    message = (
        "<class 'asyncpg.exceptions.UniqueViolationError'>: duplicate key value violates "
        'unique constraint "uq_dossier_code_key"\nDETAIL:  Key (code_key)=(X) already exists.'
    )
    assert domain_error(_integrity_error(message)).detail == (
        "the change conflicts with what is stored: duplicate key value violates unique "
        'constraint "uq_dossier_code_key"'
    )
