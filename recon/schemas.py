"""The base Struct of each boundary, so each shape's options are said once (msgspec's way).

    In     what comes from outside (API bodies, the settings file): strict, an unknown field
           is refused; fields are named
    Out    what we answer (API responses, CLI JSON): fields are named

msgspec does not pass `kw_only` on to subclasses, so these bases' metaclass does; and
`dataclass_transform` tells type checkers the same. The engine's and the domain's values
(`recon.matching.types`, `recon.domain`) are frozen Structs of their own.
"""

from __future__ import annotations

from typing import Any, Self, dataclass_transform

import msgspec


class _NamedFields(msgspec.StructMeta):
    """Every subclass is `kw_only`, as the base is."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any
    ) -> _NamedFields:
        options.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **options)


@dataclass_transform(kw_only_default=True, field_specifiers=(msgspec.field,))
class In(msgspec.Struct, metaclass=_NamedFields, forbid_unknown_fields=True):
    pass


@dataclass_transform(kw_only_default=True, field_specifiers=(msgspec.field,))
class Out(msgspec.Struct, metaclass=_NamedFields):
    @classmethod
    def from_row(cls, row: object, **values: Any) -> Self:
        """The shape of `row`: each field read from the row's attribute of the same name, except
        those given in `values`."""
        read = {name: getattr(row, name) for name in cls.__struct_fields__ if name not in values}
        return cls(**read, **values)
