"""Explanations in Vietnamese, as the accountant reads them: `1.234.567 ₫`, `dd/mm/yyyy`."""

from __future__ import annotations

from datetime import date

STATUS_WORDS = {
    "failed": "thất bại",
    "reversed": "đã bị đảo",
    "pending": "đang xử lý",
    "success": "thành công",
}


def vnd(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", ".") + " ₫"


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def underpaid(code: str, fee: int, net: int) -> str:
    return (
        f"Hồ sơ {code} thu thiếu: lệ phí {vnd(fee)}, đã nhận {vnd(net)}, "
        f"còn thiếu {vnd(fee - net)}."
    )


def overpaid(code: str, fee: int, net: int) -> str:
    if fee == 0:
        return f"Hồ sơ {code} được miễn lệ phí nhưng đã nhận {vnd(net)}: cần hoàn trả."
    return f"Hồ sơ {code} thu thừa: lệ phí {vnd(fee)}, đã nhận {vnd(net)}, thừa {vnd(net - fee)}."


def duplicate(code: str, fee: int, net: int, times: int) -> str:
    return (
        f"Hồ sơ {code} được thanh toán {times} lần, mỗi lần đủ lệ phí {vnd(fee)}; "
        f"tổng đã nhận {vnd(net)}, thừa {vnd(net - fee)}."
    )


def closed_dossier(code: str, state: str, net: int) -> str:
    verb = "đã bị huỷ" if state == "cancelled" else "đã bị từ chối"
    return f"Hồ sơ {code} {verb} nhưng đã nhận {vnd(net)}: cần hoàn trả cho người nộp."


def unmatched_payment(channel: str, txn_id: str, amount: int, on: date) -> str:
    return (
        f"Khoản thanh toán {vnd(amount)} qua {channel} (mã giao dịch {txn_id}) ngày {day(on)} "
        "không khớp với hồ sơ nào."
    )


def ambiguous(channel: str, txn_id: str, amount: int, codes: list[str]) -> str:
    return (
        f"Nội dung khoản thanh toán {vnd(amount)} qua {channel} (mã giao dịch {txn_id}) nhắc tới "
        f"nhiều hồ sơ: {', '.join(codes)}. Hệ thống không tự ghép; cần kiểm tra."
    )


def unmatched_refund(channel: str, txn_id: str, amount: int) -> str:
    return (
        f"Khoản hoàn tiền {vnd(amount)} qua {channel} (mã giao dịch {txn_id}) không tìm thấy "
        "khoản thanh toán tương ứng."
    )


def refund_below_zero(channel: str, txn_id: str, amount: int, code: str, net: int) -> str:
    return (
        f"Khoản hoàn tiền {vnd(amount)} qua {channel} (mã giao dịch {txn_id}) làm số đã thu "
        f"của hồ sơ {code} thành {vnd(net)}: hoàn nhiều hơn đã thu."
    )


def missing(code: str, channel: str, on: date, next_day: date) -> str:
    return (
        f"Hồ sơ {code} báo đã thanh toán qua {channel} ngày {day(on)}, nhưng sao kê ngày "
        f"{day(on)} và {day(next_day)} không có giao dịch thành công nào của hồ sơ."
    )


def claim_conflict(code: str, channel: str, txn_id: str, status: str) -> str:
    return (
        f"Hồ sơ {code} báo đã thanh toán qua {channel}, nhưng sao kê ghi giao dịch {txn_id} "
        f"{STATUS_WORDS.get(status, status)}."
    )


def still_pending(channel: str, txn_id: str, amount: int, on: date, next_day: date) -> str:
    return (
        f"Giao dịch {txn_id} ({vnd(amount)} qua {channel}, ngày {day(on)}) vẫn đang xử lý "
        f"sau khi đã lấy sao kê ngày {day(next_day)}."
    )


def control_totals(
    channel: str,
    on: date,
    expected: tuple[int | None, int | None],
    received: tuple[int | None, int | None],
) -> str:
    def figures(count: int | None, amount: int | None) -> str:
        text = f"{count if count is not None else '?'} giao dịch"
        return text + (f", {vnd(amount)}" if amount is not None else "")

    return (
        f"Sao kê {channel} ngày {day(on)} không khớp tổng kiểm soát của chính kênh: kênh báo "
        f"{figures(*expected)}, nhận được {figures(*received)}. Sao kê chưa được lưu."
    )
