"""The engine: dossiers, statement lines and the channel-days that are in → resolutions and
cases. Pure and deterministic: the same input gives byte-identical output (DESIGN 3, 4)."""

from __future__ import annotations

from operator import attrgetter

from recon.matching.judge import control_total_case, judge_dossier, judge_line
from recon.matching.resolve import DossierIndex, resolve_all
from recon.matching.types import CaseOut, EngineInput, EngineOutput, Line, Resolution


def run_engine(given: EngineInput) -> EngineOutput:
    index = DossierIndex(given.dossiers)
    lines = sorted(given.lines, key=attrgetter("id"))
    resolutions = resolve_all(lines, index)
    by_dossier: dict[int, list[Line]] = {}
    for line in lines:
        owner = resolutions[line.id].dossier_id
        if owner is not None:
            if owner in by_dossier:
                by_dossier[owner].append(line)
            else:
                by_dossier[owner] = [line]

    if given.judge_dossier_ids is None:
        judged = sorted(index.by_id)
    else:
        wanted = set(given.judge_dossier_ids)
        if given.judge_owners:
            wanted.update(
                owner
                for line in lines
                if not line.fixed and (owner := resolutions[line.id].dossier_id) is not None
            )
        judged = sorted(wanted)
    held_dossiers, held_lines = _held(given, lines, resolutions, index)
    dossiers = [index.by_id[k] for k in judged if k in index.by_id and k not in held_dossiers]
    # a claim naming its transaction looks the line up: only then are lines indexed by it
    by_txn: dict[tuple[str, str], Line] = {}
    if any(dossier.claim_txn_id for dossier in dossiers):
        by_txn = {(line.channel, line.txn_id): line for line in lines}
    cases: dict[str, CaseOut] = {}
    nets: dict[int, int] = {}
    for dossier in dossiers:
        net, found = judge_dossier(dossier, by_dossier.get(dossier.id, []), given.pulled, by_txn)
        nets[dossier.id] = net
        for case in found:
            cases.setdefault(case.identity, case)

    for line in lines:
        if given.judge_line_ids is not None and line.id not in given.judge_line_ids:
            continue
        if line.id in held_lines:
            continue
        line_case = judge_line(line, resolutions[line.id], index.by_id, nets, given.pulled)
        if line_case is not None:
            # a claim's conflict and the same line's own conflict are one case (one identity)
            cases.setdefault(line_case.identity, line_case)
    for mismatch in given.mismatches:
        total_case = control_total_case(mismatch)
        cases.setdefault(total_case.identity, total_case)

    return EngineOutput(
        resolutions=tuple(resolutions[line.id] for line in lines if not line.fixed),
        cases=tuple(cases[identity] for identity in sorted(cases)),
        nets=nets,
        held_dossier_ids=held_dossiers,
        held_line_ids=held_lines,
    )


def _held(
    given: EngineInput,
    lines: list[Line],
    resolutions: dict[int, Resolution],
    index: DossierIndex,
) -> tuple[frozenset[int], frozenset[int]]:
    """What rests on a waiting channel: dossiers with a line or a claim on one, and the lines
    on one or owned by such a dossier (a line's own case reads its owner's net)."""
    waiting = given.waiting
    if not waiting:
        return frozenset(), frozenset()
    dossiers = {d.id for d in index.by_id.values() if d.claim_channel in waiting}
    dossiers.update(
        owner
        for line in lines
        if line.channel in waiting and (owner := resolutions[line.id].dossier_id) is not None
    )
    held_lines = frozenset(
        line.id
        for line in lines
        if line.channel in waiting or resolutions[line.id].dossier_id in dossiers
    )
    return frozenset(dossiers), held_lines
