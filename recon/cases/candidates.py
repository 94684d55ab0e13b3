"""Which dossier an owner-less payment may belong to: the candidates ranked for the accountant.

A pure function over facts already read (recon.cases.detail reads them with a bounded query):
the accountant decides, the ranking only orders the evidence and says why, in Vietnamese.
Points, highest first:

    the payment's text names the dossier's code              +40
    the amount is what the dossier still owes                +30  (or its whole fee: +20)
    the dossier claims a payment within a day of this one    +15  (+5 more on the same channel)
    else it was submitted shortly before the payment         +15 a day, +10 a week, +5 a month
    the text holds the applicant's name                      up to +15 (the share of its words)
    the dossier is cancelled or rejected                     -20
    the dossier is already paid in full                      -15

A dossier with no point left is no candidate. Ties go to the nearest submission, then the code.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from recon.matching.normalize import code_key, normalise_text

CLOSED_STATES = ("cancelled", "rejected")
MIN_NAME_WORD = 2  # shorter words ("A", "Ư") say nothing about who paid
DAY = timedelta(days=1)


class PaymentClue(msgspec.Struct, frozen=True, kw_only=True):
    """What the owner-less line says about itself."""

    amount: int
    paid_at: datetime
    channel: str
    text: str  # its description, order ref and payer, as the channel sent them


class DossierFacts(msgspec.Struct, frozen=True, kw_only=True):
    dossier_code: str
    fee_amount: int
    state: str
    submitted_at: datetime
    applicant: str = ""
    procedure_name: str = ""
    claimed_paid_at: datetime | None = None
    claimed_paid_channel: str | None = None
    paid_amount: int = 0  # what its matched lines already net to


class Ranked(msgspec.Struct, frozen=True, kw_only=True):
    dossier: DossierFacts
    score: int
    reasons: tuple[str, ...]


def words(text: str) -> set[str]:
    """The text's words, each normalised (no marks, upper case, letters and digits only)."""
    return {w for w in (normalise_text(part) for part in text.split()) if w}


def _days(span: timedelta) -> int:
    return abs(span) // DAY


def _when_points(payment: PaymentClue, dossier: DossierFacts) -> tuple[int, str | None]:
    claimed = dossier.claimed_paid_at
    if claimed is not None and abs(claimed - payment.paid_at) <= DAY:
        same = dossier.claimed_paid_channel == payment.channel
        where = f" qua {payment.channel}" if same else ""
        return (20 if same else 15), f"Hồ sơ báo đã nộp{where} gần thời điểm này"
    before = payment.paid_at - dossier.submitted_at
    if before < -DAY:
        return 0, None  # submitted after the money came: unlikely its owner
    days = _days(before) if before > timedelta(0) else 0
    if days <= 1:
        return 15, "Hồ sơ nộp trong vòng 1 ngày trước khoản tiền"
    if days <= 7:
        return 10, f"Hồ sơ nộp {days} ngày trước khoản tiền"
    if days <= 30:
        return 5, f"Hồ sơ nộp {days} ngày trước khoản tiền"
    return 0, None


def _name_points(text_words: set[str], applicant: str) -> tuple[int, str | None]:
    name = {w for w in words(applicant) if len(w) >= MIN_NAME_WORD}
    if not name:
        return 0, None
    share = len(name & text_words) / len(name)
    points = round(15 * share)
    return (points, "Nội dung có tên người nộp") if points else (0, None)


def score(payment: PaymentClue, dossier: DossierFacts) -> Ranked:
    """One dossier's points and the reasons behind them."""
    points, reasons = 0, []
    key = code_key(dossier.dossier_code)
    if key and key in normalise_text(payment.text):
        points += 40
        reasons.append("Nội dung ghi mã hồ sơ")
    closed = dossier.state in CLOSED_STATES  # it owes nothing: its money is refunded
    owed = 0 if closed else max(dossier.fee_amount - dossier.paid_amount, 0)
    if owed and payment.amount == owed:
        points += 30
        reasons.append("Đúng số tiền hồ sơ còn phải nộp")
    elif dossier.fee_amount and payment.amount == dossier.fee_amount:
        points += 20
        reasons.append("Bằng lệ phí của hồ sơ")
    when, why = _when_points(payment, dossier)
    points += when
    if why:
        reasons.append(why)
    named, why = _name_points(words(payment.text), dossier.applicant)
    points += named
    if why:
        reasons.append(why)
    if closed:
        points -= 20
        reasons.append("Hồ sơ đã hủy hoặc bị từ chối")
    if dossier.fee_amount and dossier.paid_amount >= dossier.fee_amount:
        points -= 15
        reasons.append("Hồ sơ đã thu đủ")
    return Ranked(dossier=dossier, score=points, reasons=tuple(reasons))


def rank_candidates(
    payment: PaymentClue, dossiers: list[DossierFacts], *, limit: int = 5
) -> list[Ranked]:
    """The `limit` likeliest owners of the payment, best first; a dossier counted once."""
    unique = {d.dossier_code: d for d in dossiers}
    ranked = [r for r in (score(payment, d) for d in unique.values()) if r.score > 0]
    ranked.sort(
        key=lambda r: (
            -r.score,
            abs(payment.paid_at - r.dossier.submitted_at),
            r.dossier.dossier_code,
        )
    )
    return ranked[:limit]
