"""The ASCII fast path of `normalise_text` gives what the general path gives (DESIGN 3)."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from recon.matching.normalize import _normalise_unicode, code_key, normalise_text

ASCII = st.text(alphabet=st.characters(max_codepoint=127))
CODE_LIKE = st.text(alphabet=string.ascii_letters + string.digits + ".-_/ ")


@given(st.one_of(ASCII, CODE_LIKE, st.text()))
def test_the_ascii_fast_path_equals_the_general_path(text: str) -> None:
    assert normalise_text(text) == _normalise_unicode(text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_the_per_character_path_equals_the_general_path(text: str) -> None:
    # any Unicode text, Vietnamese or not, with combining marks in any order
    assert normalise_text(text) == _normalise_unicode(text)


def test_vietnamese_text_loses_its_marks_and_keeps_its_letters() -> None:
    assert normalise_text("Thanh toán lệ phí hồ sơ H17.25-241125-0042") == (
        "THANHTOANLEPHIHOSOH17252411250042"
    )
    assert normalise_text("Ước ĐỨC ﬁ ① ß") == "UOCDUCFI1SS"


def test_a_dossier_code_key_drops_punctuation_and_ignores_case() -> None:
    assert code_key("h17.25-241125-0042") == "H17252411250042"
    assert code_key(" H17.25 241125/0042\t") == "H17252411250042"
    assert code_key("Hồ sơ đ-01") == "HOSOD01"
