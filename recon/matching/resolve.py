"""Which dossier a line pays: rules 1–3 of DESIGN 3, first hit wins, never a guess."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from recon.matching.normalize import normalise_text, ref_key
from recon.matching.types import Dossier, Line, Resolution

# rule 3 indexes codes by their first characters; a shorter code is never searched in free
# text (it would turn up inside unrelated words and numbers)
MIN_SEARCHED_CODE = 6
_ID = attrgetter("id")


class DossierIndex:
    """Lookups for rules 1–3 over the dossiers given to the engine."""

    def __init__(self, dossiers: Iterable[Dossier] = ()) -> None:
        self.by_id: dict[int, Dossier] = {}
        self.by_ref: dict[str, Dossier] = {}
        self.by_code: dict[str, Dossier] = {}
        # rule 3: normalised codes by their length, so that each place in a text costs one
        # dict lookup per distinct length (codes share long prefixes such as "H1725")
        self.by_key: dict[int, dict[str, Dossier]] = {}
        self.add(dossiers)

    def add(self, dossiers: Iterable[Dossier]) -> None:
        """Index more dossiers. Where two share a key the lower id wins, whatever the order
        they come in (one call or several)."""
        by_id, by_ref, by_code, by_key = self.by_id, self.by_ref, self.by_code, self.by_key
        for dossier in sorted(dossiers, key=_ID):
            by_id[dossier.id] = dossier
            for key in dossier.ref_keys:
                if by_ref.setdefault(key, dossier).id > dossier.id:
                    by_ref[key] = dossier
            key = ref_key(dossier.code)
            if by_code.setdefault(key, dossier).id > dossier.id:
                by_code[key] = dossier
            key = dossier.code_key
            if len(key) >= MIN_SEARCHED_CODE:
                same_length = by_key.get(len(key))
                if same_length is None:
                    same_length = by_key[len(key)] = {}
                if same_length.setdefault(key, dossier).id > dossier.id:
                    same_length[key] = dossier

    def names_exactly(self, line: Line) -> bool:
        """Whether rule 1 or 2 resolves the line: `referenced` would find its dossier."""
        return _exactly(line, self) is not None

    def codes_in(self, text: str) -> list[Dossier]:
        """Dossiers whose normalised code occurs in the normalised text (rule 3).

        Where one found code lies inside another found code's span, only the longer counts;
        the same dossier named twice is one dossier.
        """
        found: list[tuple[int, int, Dossier]] = []
        for length, keys in self.by_key.items():
            for start in range(len(text) - length + 1):
                dossier = keys.get(text[start : start + length])
                if dossier is not None:
                    found.append((start, start + length, dossier))
        kept = [
            (start, end, dossier)
            for start, end, dossier in found
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in found)
        ]
        unique: dict[int, Dossier] = {}
        for _, _, dossier in kept:
            unique.setdefault(dossier.id, dossier)
        return [unique[k] for k in sorted(unique)]


def _exactly(line: Line, index: DossierIndex) -> tuple[Dossier, str, str, str] | None:
    """Rules 1 and 2, in their order: (dossier, rule, field, value) of the first hit."""
    if line.order_ref:
        key = ref_key(line.order_ref)
        dossier = index.by_ref.get(key)
        if dossier is not None:
            return dossier, "payment_ref", "order_ref", line.order_ref
        dossier = index.by_code.get(key)
        if dossier is not None:
            return dossier, "dossier_code", "order_ref", line.order_ref
    if line.hint:
        dossier = index.by_code.get(ref_key(line.hint))
        if dossier is not None:
            return dossier, "dossier_code", "dossier_hint", line.hint
    return None


def referenced(line: Line, index: DossierIndex) -> Resolution | None:
    """Rules 1 and 2: the dossier the line's order ref or the channel's hint names exactly."""
    found = _exactly(line, index)
    return None if found is None else _hit(line, *found)


def resolve_payment(line: Line, index: DossierIndex) -> Resolution:
    """A person's link, then rules 1–3, for a payment (or any line that is not a refund)."""
    linked = index.by_id.get(line.linked_to) if line.linked_to is not None else None
    if linked is not None:
        return Resolution(
            line_id=line.id,
            dossier_id=linked.id,
            rule="linked",
            fields={"linked": "by hand", "dossier_code": linked.code},
        )
    hit = referenced(line, index)
    if hit is not None:
        return hit
    text = normalise_text(" ".join(t for t in (line.order_ref, line.text) if t))
    named = index.codes_in(text)
    if len(named) == 1:
        return _hit(line, named[0], "text", "text", text)
    if len(named) > 1:
        return Resolution(
            line_id=line.id,
            dossier_id=None,
            rule=None,
            fields={"text": text},
            ambiguous=tuple(d.id for d in named),
        )
    return Resolution(line_id=line.id, dossier_id=None, rule=None)


def _hit(line: Line, dossier: Dossier, rule: str, field: str, value: str) -> Resolution:
    """A resolution naming the field that decided it, then the dossier's code."""
    return Resolution(
        line_id=line.id,
        dossier_id=dossier.id,
        rule=rule,
        fields={field: value, "dossier_code": dossier.code},
    )


class PaymentIndex:
    """The payments a refund may net against, by `(channel, txn id)` and `(channel, order ref)`.

    Given the refunds to net, only the payments one of them could name are indexed.
    """

    def __init__(self, payments: Sequence[Line], refunds: Sequence[Line] | None = None) -> None:
        self.by_txn: dict[tuple[str, str], Line] = {}
        self.by_ref: dict[tuple[str, str], list[Line]] = {}
        txns = refs = None
        if refunds is not None:
            txns = {r.refund_of for r in refunds if r.refund_of}
            refs = {ref_key(r.order_ref) for r in refunds if not r.refund_of and r.order_ref}
        for payment in payments:
            if txns is None or payment.txn_id in txns:
                self.by_txn.setdefault((payment.channel, payment.txn_id), payment)
            if payment.order_ref and (refs is None or refs):
                key = ref_key(payment.order_ref)
                if refs is None or key in refs:
                    self.by_ref.setdefault((payment.channel, key), []).append(payment)

    def refunded_by(self, refund: Line) -> Line | None:
        """A refund nets against the payment it refunds: by `refund_of`, else by order ref."""
        if refund.refund_of:
            return self.by_txn.get((refund.channel, refund.refund_of))
        if not refund.order_ref:
            return None
        candidates = self.by_ref.get((refund.channel, ref_key(refund.order_ref)), [])
        if not candidates:
            return None
        # the one it most likely refunds: a successful one first, then the latest, then by id
        return max(candidates, key=lambda p: (p.status == "success", p.paid_at, p.txn_id))


def resolve_all(lines: Sequence[Line], index: DossierIndex) -> dict[int, Resolution]:
    """Every line's resolution; fixed lines keep theirs; refunds follow their payment."""
    resolutions: dict[int, Resolution] = {}
    refunds = [line for line in lines if line.kind == "refund" and not line.fixed]
    for line in lines:
        if line.fixed:
            resolutions[line.id] = Resolution(
                line_id=line.id, dossier_id=line.fixed_dossier_id, rule=None
            )
        elif line.kind == "settlement":
            resolutions[line.id] = Resolution(line_id=line.id, dossier_id=None, rule=None)
        elif line.kind == "payment":
            resolutions[line.id] = resolve_payment(line, index)
    if not refunds:
        return resolutions
    payments = PaymentIndex([line for line in lines if line.kind == "payment"], refunds)
    for line in refunds:
        payment = payments.refunded_by(line)
        if payment is None:
            resolutions[line.id] = Resolution(line_id=line.id, dossier_id=None, rule=None)
            continue
        paid = resolutions[payment.id]
        resolutions[line.id] = Resolution(
            line_id=line.id,
            dossier_id=paid.dossier_id,
            rule="refund" if paid.dossier_id is not None else None,
            fields={"refunds": payment.txn_id},
            refunds_line_id=payment.id,
        )
    return resolutions
