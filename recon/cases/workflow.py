"""The case workflow (DESIGN 4, "Workflow, precisely"): `resolve`, `approve`, `reject`, `reopen`.

Every action names an account and a non-empty note. The checks all come first, in this order,
and a refusal changes nothing: the values (BadInput, 422), the account and its role
(Forbidden, 403), the cases (NotFound, 404), the dossier a link names (404), the cases' state
(Conflict, 409), and last maker-checker (403). Then one transaction changes the cases, appends
one history event per case and, for a link or its undoing, re-judges the line and the dossiers
at once as a run would (`recon.runs.rejudge`).

On PostgreSQL an action first waits for any run's judgement to commit (the runs' advisory
lock): a run that read a case before a person resolved it would otherwise close it after.
SQLite has one writer at a time already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseEvent, CaseLine, Dossier, User, table
from recon.db.sets import dialect_of
from recon.domain import MAX_ID
from recon.errors import BadInput, Conflict, FieldError, Forbidden, NotFound
from recon.matching.normalize import code_key
from recon.runs.lease import judge_alone
from recon.runs.rejudge import rejudge
from recon.settings import FileChannel, Settings
from recon.vocab import CASE_RESOLUTIONS, LINKABLE_CASE_TYPES, LIVE_CASE_STATUSES

RESOLVERS = ("accountant", "approver")  # resolve and reopen
APPROVERS = ("approver",)  # approve and reject a pending write-off
MAX_BULK = 1000
WRITE_OFF = "written_off"


def at_stake(case: Case) -> int:
    """The amount a write-off gives up: |actual − expected|, or actual where none is expected."""
    actual = case.actual_amount or 0
    if case.expected_amount is None:
        return abs(actual)
    return abs(actual - case.expected_amount)


# --- the checks ---------------------------------------------------------------------------


def _bad(field: str, reason: str) -> BadInput:
    return BadInput(f"{field}: {reason}", [FieldError(field, reason)])


def checked_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise _bad("note", "a note is required for every action on a case")
    return note


def checked_resolution(resolution: str, dossier_code: str | None) -> tuple[str, str | None]:
    """The resolution, and the dossier code that `linked` needs and nothing else takes."""
    value = resolution.strip().lower()
    if value not in CASE_RESOLUTIONS:
        raise _bad("resolution", f"{resolution!r} is not one of {', '.join(CASE_RESOLUTIONS)}")
    code = dossier_code.strip() if dossier_code is not None else None
    if value == "linked" and not code:
        raise _bad("dossier_code", "`linked` needs the code of the dossier the line belongs to")
    if value != "linked" and dossier_code is not None:
        raise _bad("dossier_code", f"a dossier code goes only with `linked`, not {value!r}")
    return value, code


def checked_ids(ids: Iterable[int]) -> list[int]:
    """The ids once each, in the order given."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise _bad("ids", "name at least one case")
    if len(unique) > MAX_BULK:
        raise _bad("ids", f"at most {MAX_BULK:,} cases in one action, not {len(unique):,}")
    return unique


async def _actor(session: AsyncSession, username: str, roles: Sequence[str], act: str) -> User:
    """The account acting, if it may: an unknown or disabled account acts on nothing."""
    name = username.strip()
    user = (await session.execute(select(User).where(User.username == name))).scalar_one_or_none()
    if user is None or user.disabled_at is not None:
        reason = f"no active account {name!r}: only an accountant or an approver acts on cases"
        raise Forbidden(reason, [FieldError("user", reason)])
    if user.role not in roles:
        reason = f"{act} needs the role {' or '.join(roles)}; {user.username} is {user.role}"
        raise Forbidden(reason, [FieldError("user", reason)])
    return user


async def _cases(session: AsyncSession, ids: Sequence[int], field: str) -> list[Case]:
    """The cases, locked for this transaction (PostgreSQL), in the order given."""
    wanted = [i for i in ids if 1 <= i <= MAX_ID]
    query = select(Case).where(Case.id.in_(wanted)).with_for_update() if wanted else None
    found = {c.id: c for c in (await session.execute(query)).scalars()} if query is not None else {}
    missing = [i for i in ids if i not in found]
    if missing:
        errors = [FieldError(field, f"no case with id {i}") for i in missing]
        raise NotFound("; ".join(e.reason for e in errors), errors)
    return [found[i] for i in ids]


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        raise Conflict("; ".join(e.reason for e in errors), errors)


async def _dossier(session: AsyncSession, code: str) -> Dossier:
    found = (
        await session.execute(select(Dossier).where(Dossier.code_key == code_key(code)))
    ).scalar_one_or_none()
    if found is None:
        reason = f"no dossier {code!r}"
        raise NotFound(reason, [FieldError("dossier_code", reason)])
    return found


async def _begin(session: AsyncSession) -> None:
    if dialect_of(session) == "postgresql":
        await judge_alone(session)


def _file_fed(settings: Settings) -> list[str]:
    return [n for n in settings.channel_names() if isinstance(settings.channels[n], FileChannel)]


# --- writing ------------------------------------------------------------------------------


def _event(
    case: Case,
    action: str,
    before: str,
    user: User,
    note: str,
    now: datetime,
    *,
    resolution: str | None = None,
    dossier_code: str | None = None,
    changes: dict[str, object] | None = None,
    via: str | None = None,
) -> dict[str, object]:
    changes = dict(changes or {})
    if via is not None:  # the face the person acted through: "cli", "web", "api:<key name>"
        changes["via"] = via
    return {
        "case_id": case.id,
        "at": now,
        "actor": user.username,
        "action": action,
        "from_status": before,
        "to_status": case.status,
        "resolution": resolution,
        "dossier_code": dossier_code,
        "changes": msgspec.json.encode(changes).decode(),
        "note": note,
        "run_id": None,
    }


async def _append(session: AsyncSession, events: list[dict[str, object]]) -> None:
    await session.flush()  # the cases' new state first: a re-judge reads it
    await session.execute(insert(table(CaseEvent)), events)


async def _lines_of(session: AsyncSession, case_ids: Sequence[int]) -> list[int]:
    query = select(CaseLine.line_id).where(CaseLine.case_id.in_(case_ids))
    return list((await session.execute(query)).scalars())


async def _commit(session: AsyncSession) -> None:
    await session.commit()
    # the engine wrote cases through Core: what the caller reads back must be the database's
    session.expire_all()


# --- the actions --------------------------------------------------------------------------


async def resolve(
    *,
    db_session: AsyncSession,
    case_ids: Sequence[int],
    resolution: str,
    username: str,
    note: str,
    dossier_code: str | None = None,
    settings: Settings,
    now: datetime,
    via: str | None = None,
) -> list[int]:
    """Resolve one or several live cases alike, all or none; the ids acted on."""
    note = checked_note(note)
    resolution, code = checked_resolution(resolution, dossier_code)
    ids = checked_ids(case_ids)
    await _begin(db_session)
    user = await _actor(db_session, username, RESOLVERS, "resolving a case")
    cases = await _cases(db_session, ids, "ids")
    dossier = await _dossier(db_session, code) if code is not None else None
    errors = [
        FieldError("ids", f"case {c.id} is {c.status}: only a live case is resolved")
        for c in cases
        if c.status not in LIVE_CASE_STATUSES
    ]
    errors += [
        FieldError("ids", f"case {c.id} awaits an approver for its write-off")
        for c in cases
        if c.status in LIVE_CASE_STATUSES and c.pending_resolution is not None
    ]
    if resolution == "linked":
        errors += [
            FieldError("ids", f"case {c.id} is {c.type}: `linked` is for an owner-less payment")
            for c in cases
            if c.type not in LINKABLE_CASE_TYPES
        ]
    _refuse(errors)

    threshold = settings.thresholds.write_off_approval
    events: list[dict[str, object]] = []
    for case in cases:
        before = case.status
        case.updated_at = now
        if resolution == WRITE_OFF and at_stake(case) > threshold:
            # above the threshold: live until an approver approves (DESIGN 4)
            case.pending_resolution, case.pending_at = WRITE_OFF, now
            case.pending_by = user.username
            changes: dict[str, object] = {"pending_resolution": WRITE_OFF}
            changes |= {"at_stake": at_stake(case), "threshold": threshold}
            events.append(
                _event(
                    case,
                    "resolve",
                    before,
                    user,
                    note,
                    now,
                    resolution=WRITE_OFF,
                    changes=changes,
                    via=via,
                )
            )
            continue
        case.status, case.resolution = "resolved", resolution
        case.linked_dossier_id = dossier.id if dossier is not None else None
        events.append(
            _event(
                case,
                "resolve",
                before,
                user,
                note,
                now,
                resolution=resolution,
                dossier_code=dossier.dossier_code if dossier is not None else None,
                via=via,
            )
        )
    await _append(db_session, events)
    if dossier is not None:
        await rejudge(
            db_session,
            line_ids=await _lines_of(db_session, ids),
            dossier_ids=[dossier.id],
            file_fed=_file_fed(settings),
            now=now,
        )
    await _commit(db_session)
    return ids


async def _pending(
    session: AsyncSession, case_id: int, username: str, act: str
) -> tuple[Case, User]:
    """The case with a write-off awaiting approval, and the approver who is not its asker."""
    user = await _actor(session, username, APPROVERS, act)
    (case,) = await _cases(session, [case_id], "case_id")
    if case.status not in LIVE_CASE_STATUSES or case.pending_resolution is None:
        reason = f"case {case.id} has no write-off awaiting approval (it is {case.status})"
        raise Conflict(reason, [FieldError("case_id", reason)])
    if case.pending_by == user.username:
        reason = f"{user.username} asked for this write-off: another approver decides it"
        raise Forbidden(reason, [FieldError("user", reason)])
    return case, user


async def approve(
    *,
    db_session: AsyncSession,
    case_id: int,
    username: str,
    note: str,
    now: datetime,
    via: str | None = None,
) -> int:
    """An approver resolves a pending write-off as `written_off`."""
    return await _decide(db_session, case_id, username, note, now, via, approved=True)


async def reject(
    *,
    db_session: AsyncSession,
    case_id: int,
    username: str,
    note: str,
    now: datetime,
    via: str | None = None,
) -> int:
    """An approver turns a pending write-off down: the case stays live, nothing pending."""
    return await _decide(db_session, case_id, username, note, now, via, approved=False)


async def _decide(
    session: AsyncSession,
    case_id: int,
    username: str,
    note: str,
    now: datetime,
    via: str | None,
    *,
    approved: bool,
) -> int:
    note = checked_note(note)
    await _begin(session)
    act = "approving a write-off" if approved else "rejecting a write-off"
    case, user = await _pending(session, case_id, username, act)
    before, asked_by = case.status, case.pending_by
    if approved:
        case.status, case.resolution = "resolved", WRITE_OFF
    case.pending_resolution = case.pending_by = case.pending_at = None
    case.updated_at = now
    changes: dict[str, object] = {"asked_by": asked_by}
    action = "approve" if approved else "reject"
    event = _event(
        case, action, before, user, note, now, resolution=WRITE_OFF, changes=changes, via=via
    )
    await _append(session, [event])
    await _commit(session)
    return case_id


async def reopen(
    *,
    db_session: AsyncSession,
    case_id: int,
    username: str,
    note: str,
    settings: Settings,
    now: datetime,
    via: str | None = None,
) -> int:
    """A resolved case becomes `reopened` (live), its resolution cleared; a link is undone and
    its line and dossier re-judged at once."""
    note = checked_note(note)
    await _begin(db_session)
    user = await _actor(db_session, username, RESOLVERS, "reopening a case")
    (case,) = await _cases(db_session, [case_id], "case_id")
    if case.status != "resolved":
        why = "a closed case takes no action" if case.status == "closed" else "it is live"
        reason = f"case {case.id} is {case.status}: only a resolved case is reopened ({why})"
        raise Conflict(reason, [FieldError("case_id", reason)])
    linked = case.linked_dossier_id if case.resolution == "linked" else None
    dossier = await db_session.get(Dossier, linked) if linked is not None else None
    code = dossier.dossier_code if dossier is not None else None
    before, was = case.status, case.resolution
    case.status, case.resolution, case.linked_dossier_id = "reopened", None, None
    case.updated_at = now
    changes: dict[str, object] = {"resolution": was}
    event = _event(
        case, "reopen", before, user, note, now, dossier_code=code, changes=changes, via=via
    )
    await _append(db_session, [event])
    if linked is not None:
        await rejudge(
            db_session,
            line_ids=await _lines_of(db_session, [case.id]),
            dossier_ids=[linked],
            file_fed=_file_fed(settings),
            now=now,
        )
    await _commit(db_session)
    return case_id
