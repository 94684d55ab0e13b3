"""Text normalisation of DESIGN 3, shared by matching and by the dossier-code uniqueness rule."""

from __future__ import annotations

import unicodedata

# đ/Đ have no decomposition in Unicode: NFKD leaves them whole, so map them by hand
_STROKED = str.maketrans({"đ": "d", "Đ": "D"})
# ASCII text is its own NFKD: only its bytes that are not letters or digits go
_ASCII_DROPPED = bytes(c for c in range(128) if not chr(c).isalnum())
_KEPT_CHARACTERS = 20_000


class _PerCharacter(dict[int, str]):
    """Each character's normalised form, computed on first sight: NFKD, upper-casing and the
    filter all work character by character, so the text's form is its characters' forms
    joined, and `str.translate` joins them in C (Vietnamese texts repeat a few hundred
    characters)."""

    def __missing__(self, codepoint: int) -> str:
        form = _normalise_unicode(chr(codepoint))
        if len(self) < _KEPT_CHARACTERS:  # bounded, whatever texts the channels send
            self[codepoint] = form
        return form


_BY_CHARACTER = _PerCharacter()


def normalise_text(text: str) -> str:
    """NFKD, marks removed, đ→d, uppercase, every non-alphanumeric character dropped."""
    if text.isascii():  # codes such as H17.25-241125-0042: no decomposition to do
        # bytes.translate deletes in C, several times faster than str.translate
        return text.encode("ascii").translate(None, _ASCII_DROPPED).upper().decode("ascii")
    return text.translate(_BY_CHARACTER)


def _normalise_unicode(text: str) -> str:
    """The general path of `normalise_text`, right for any text (ASCII included)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_STROKED))
    return "".join(ch for ch in decomposed.upper() if ch.isascii() and ch.isalnum())


# The key under which two dossier codes count as the same dossier: the text normalised (one
# call less on the bulk intake's path than a function that calls normalise_text).
code_key = normalise_text


def ref_key(ref: str) -> str:
    """Payment refs and codes compare ignoring letter case and surrounding space (rules 1, 2)."""
    return ref.strip().upper()
