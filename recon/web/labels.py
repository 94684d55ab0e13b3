"""The case workflow's words in Vietnamese, for the queue, case and audit pages."""

from __future__ import annotations

from recon.web.format import CASE_TYPE_NAMES

STATUS_LABELS = {
    "open": "Đang mở",
    "reopened": "Mở lại",
    "resolved": "Đã xử lý",
    "closed": "Đã đóng",
}
RESOLUTION_LABELS = {
    "linked": "Gắn với hồ sơ",
    "accepted": "Chấp nhận chênh lệch",
    "refund_requested": "Yêu cầu hoàn tiền",
    "written_off": "Xóa sổ",
    "channel_dispute": "Khiếu nại kênh thanh toán",
}
ACTION_LABELS = {
    "resolve": "Xử lý",
    "approve": "Duyệt xóa sổ",
    "reject": "Từ chối xóa sổ",
    "reopen": "Mở lại",
    "opened": "Mở vụ việc",
    "updated": "Cập nhật số tiền",
    "closed": "Tự đóng (không còn sai lệch)",
}
LINE_KIND_LABELS = {"payment": "Thanh toán", "refund": "Hoàn tiền", "settlement": "Quyết toán"}
LINE_STATUS_LABELS = {
    "success": "Thành công",
    "failed": "Thất bại",
    "pending": "Đang xử lý",
    "reversed": "Đã đảo",
}
DOSSIER_STATE_LABELS = {
    "received": "Đã tiếp nhận",
    "processing": "Đang xử lý",
    "completed": "Đã trả kết quả",
    "cancelled": "Đã hủy",
    "rejected": "Bị từ chối",
}
ENGINE_NAME = "Hệ thống"  # the actor of a run's events

LABELS = {
    "type": CASE_TYPE_NAMES,
    "status": STATUS_LABELS,
    "resolution": RESOLUTION_LABELS,
    "action": ACTION_LABELS,
    "kind": LINE_KIND_LABELS,
    "line_status": LINE_STATUS_LABELS,
    "state": DOSSIER_STATE_LABELS,
    "engine": ENGINE_NAME,
}
