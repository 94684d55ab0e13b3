"""The ranking of candidate dossiers for an owner-less payment (recon.cases.candidates): the
code named in the text first, then the amount owed, the time and the applicant's name; closed
or already paid dossiers fall back; no point, no candidate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recon.cases.candidates import DossierFacts, PaymentClue, rank_candidates, score, words
from recon.cases.detail import code_keys_in

PAID_AT = datetime(2025, 11, 24, 3, 0, tzinfo=UTC)


def payment(text: str = "Chuyen tien", amount: int = 50_000) -> PaymentClue:
    return PaymentClue(amount=amount, paid_at=PAID_AT, channel="bank", text=text)


def dossier(code: str, **given: object) -> DossierFacts:
    facts: dict[str, object] = {
        "fee_amount": 50_000,
        "state": "received",
        "submitted_at": PAID_AT - timedelta(hours=2),
        "applicant": "",
    }
    return DossierFacts(dossier_code=code, **{**facts, **given})  # type: ignore[arg-type]


def codes(ranked: list[object]) -> list[str]:
    return [r.dossier.dossier_code for r in ranked]  # type: ignore[attr-defined]


def test_a_dossier_named_in_the_text_ranks_above_one_of_the_same_amount() -> None:
    named = dossier("H17.25-241125-0042", fee_amount=20_000)
    same_amount = dossier("H17.25-241125-0043")
    ranked = rank_candidates(payment("Nop phi HS H1725 241125 0042"), [same_amount, named])
    assert codes(ranked) == ["H17.25-241125-0042", "H17.25-241125-0043"]
    assert "Nội dung ghi mã hồ sơ" in ranked[0].reasons


def test_the_amount_still_owed_counts_more_than_the_whole_fee() -> None:
    part_paid = dossier("A-000001", fee_amount=80_000, paid_amount=30_000)
    whole_fee = dossier("A-000002")
    ranked = rank_candidates(payment(), [whole_fee, part_paid])
    assert codes(ranked) == ["A-000001", "A-000002"]
    assert ranked[0].reasons[0] == "Đúng số tiền hồ sơ còn phải nộp"


def test_a_nearer_submission_ranks_first_and_one_after_the_money_scores_no_time() -> None:
    week = dossier("A-000001", submitted_at=PAID_AT - timedelta(days=5))
    today = dossier("A-000002", submitted_at=PAID_AT - timedelta(hours=1))
    later = dossier("A-000003", submitted_at=PAID_AT + timedelta(days=3))
    ranked = rank_candidates(payment(), [week, later, today])
    assert codes(ranked) == ["A-000002", "A-000001", "A-000003"]
    assert [r.score for r in ranked] == [45, 40, 30]


def test_a_claimed_payment_on_the_same_channel_is_a_strong_hint() -> None:
    claimed = dossier(
        "A-000001",
        submitted_at=PAID_AT - timedelta(days=20),
        claimed_paid_at=PAID_AT + timedelta(minutes=5),
        claimed_paid_channel="bank",
    )
    fresh = dossier("A-000002")
    ranked = rank_candidates(payment(), [fresh, claimed])
    assert codes(ranked) == ["A-000001", "A-000002"]
    assert "qua bank" in ranked[0].reasons[1]


def test_the_applicants_name_in_the_text_adds_its_share() -> None:
    named = dossier("A-000001", applicant="Nguyễn Thị Hoa")
    other = dossier("A-000002", applicant="Trần Văn Bình")
    ranked = rank_candidates(payment("NGUYEN THI HOA chuyen tien"), [other, named])
    assert codes(ranked) == ["A-000001", "A-000002"]
    assert score(payment("Hoa"), named).score == score(payment(""), named).score + 5


def test_closed_or_paid_dossiers_fall_back_and_pointless_ones_are_left_out() -> None:
    cancelled = dossier("A-000001", state="cancelled")
    paid = dossier("A-000002", paid_amount=50_000)
    open_one = dossier("A-000003")
    stranger = dossier("A-000004", fee_amount=1_000, submitted_at=PAID_AT - timedelta(days=90))
    ranked = rank_candidates(payment(), [cancelled, paid, stranger, open_one])
    assert codes(ranked) == ["A-000003", "A-000002", "A-000001"]
    assert "Hồ sơ đã thu đủ" in ranked[1].reasons


def test_at_most_limit_candidates_each_once() -> None:
    many = [dossier(f"A-{n:06d}") for n in range(10)]
    ranked = rank_candidates(payment(), [*many, many[0]], limit=3)
    assert codes(ranked) == ["A-000000", "A-000001", "A-000002"]


def test_words_and_code_keys_are_normalised() -> None:
    assert words("Nguyễn  Đức-Anh") == {"NGUYEN", "DUCANH"}
    keys = code_keys_in("HS H1725241125 0003", "nhắc tới nhiều hồ sơ: H17.25-1, H17.25-2.")
    assert "H17252411250003" in keys
    assert "H17251" in keys
    assert "H17252" in keys
    assert "HS" not in keys
