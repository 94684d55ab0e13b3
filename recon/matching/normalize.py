"""Text normalisation of DESIGN 3, shared by matching and by the dossier-code uniqueness rule."""

from __future__ import annotations

import unicodedata

# đ/Đ have no decomposition in Unicode: NFKD leaves them whole, so map them by hand
_STROKED = str.maketrans({"đ": "d", "Đ": "D"})


def normalise_text(text: str) -> str:
    """NFKD, marks removed, đ→d, uppercase, every non-alphanumeric character dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_STROKED))
    return "".join(ch for ch in decomposed.upper() if ch.isascii() and ch.isalnum())


def code_key(dossier_code: str) -> str:
    """The key under which two dossier codes count as the same dossier."""
    return normalise_text(dossier_code)


def ref_key(ref: str) -> str:
    """Payment refs and codes compare ignoring letter case and surrounding space (rules 1, 2)."""
    return ref.strip().upper()
