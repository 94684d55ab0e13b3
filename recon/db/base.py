"""The models' common ground: the declarative base with the constraint naming the migrations
use, and the CHECK constraints' building blocks."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MAX_MONEY = "1000000000000000"  # 10^15 VND, the bound of DESIGN 2.5


def check_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK that `column` holds one of `values` (a vocabulary of `recon.vocab`)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
