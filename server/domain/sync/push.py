"""Push: store a device's batch of changes atomically and exactly once.

One transaction per batch: lock the device's row (so its pushes are serialised and ``acked_seq``
is read fresh), skip what was already acknowledged, check every new change, merge the accepted
ones in bulk, quarantine the refused ones, and move ``acked_seq``. Either all of it commits or
none of it does, so a retry after a lost response or a killed process completes the batch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from server.config import Settings
from server.db.engine import Database
from server.db.retry import retrying
from server.db.schema import conflict, device, rejection, version_col
from server.domain.procurement import receipt_checks
from server.domain.sync import store
from server.domain.sync.checks import Checked, check_change
from server.domain.sync.clock import ServerClock
from server.domain.sync.devices import check_not_revoked
from server.domain.sync.principal import Principal
from server.domain.sync.scopes import expected_value
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.registry import REGISTRY, Everyone, InWarehouse, Kind, OwnedBy, Role, Scope, Via
from shared.values import to_wire
from sync.merge import version_bytes
from sync.protocol import Change, PushRequest, PushResponse, Rejection

__all__ = ["push"]


def _ordered_batch(changes: list[Change]) -> list[Change]:
    """Sort by seq, drop exact duplicates, and refuse holes or contradictory duplicates."""
    out: list[Change] = []
    for c in sorted(changes, key=lambda c: c.seq):
        if out and out[-1].seq == c.seq:
            if out[-1] != c:
                raise InvalidInput(f"seq {c.seq} appears twice in the batch with different contents",
                                   code="bad_batch")
            continue
        if out and c.seq != out[-1].seq + 1:
            raise Conflict(f"the batch jumps from seq {out[-1].seq} to {c.seq}; seqs must have no gaps",
                           code="gap")
        out.append(c)
    return out


async def push(db: Database, clock: ServerClock, settings: Settings, principal: Principal,
               request: PushRequest) -> PushResponse:
    if principal.device_id is None:
        raise Forbidden("only an enrolled device can push; enrol one with the bootstrap token first",
                        code="not_a_device")
    if request.site != principal.device_id:
        raise Forbidden(f"this token belongs to device {principal.device_id}; it cannot push as "
                        f"{request.site[:64]!r}", code="wrong_site")
    changes = _ordered_batch(request.changes)
    # the stateless checks need no storage: made before the transaction, outside the writer's turn
    now = clock.now_ms()
    results = [check_change(c, principal, now, settings.max_clock_skew_ms) for c in changes]
    hold_s = settings.fault_push_delay_ms / 1000

    async def attempt() -> tuple[int, list[Rejection], int]:
        return await db.run_write(_push_in_transaction, clock, settings, principal, changes, results,
                                  hold_s=hold_s)

    acked, rejected, max_ts = await retrying(attempt)
    clock.observe(max_ts)
    return PushResponse(acked=acked, server_ts=clock.server_ts(), rejected=rejected)


def _push_in_transaction(conn: Connection, clock: ServerClock, settings: Settings, principal: Principal,
                         changes: list[Change], results: list[Checked | Rejection]
                         ) -> tuple[int, list[Rejection], int]:
    site = principal.device_id
    assert site is not None
    locked = _ACKED_FOR_UPDATE if conn.dialect.name == "postgresql" else _ACKED
    row = conn.execute(locked, {"site": site}).one()
    check_not_revoked(row.revoked_at)  # revoked since its token was looked up: nothing is stored
    acked = int(row.acked_seq)
    if changes and changes[0].seq > acked + 1:
        raise Conflict(f"the server has acknowledged up to seq {acked}; this batch starts at "
                       f"{changes[0].seq}. Send again from seq {acked + 1}.", code="gap")
    first = next((i for i, c in enumerate(changes) if c.seq > acked), len(changes))
    fresh = changes[first:]
    # a batch resent after a lost response gets its refusals again: the device must learn them
    # to undo or re-stamp those writes, or it would lose them
    earlier: dict[int, Rejection] = {}
    if first:
        rows = conn.execute(_EARLIER, {"site": site, "lo": changes[0].seq, "hi": changes[first - 1].seq})
        earlier = {r.seq: Rejection(seq=r.seq, reason=r.reason, detail=r.detail) for r in rows}
    if not fresh:
        return acked, [earlier[s] for s in sorted(earlier)], 0
    rev = store.next_rev(conn)
    checked: list[Checked] = []
    rejected: dict[int, Rejection] = {}
    for result in results[first:]:
        if isinstance(result, Rejection):
            rejected[result.seq] = result
        else:
            checked.append(result)
    plan = _resolve(conn, principal, checked, rev)
    rejected.update(plan.rejected)
    if plan.ledger.get(receipt_checks.TABLE):  # goods receipts: checked against their PO lines, booked
        plan.ledger[receipt_checks.TABLE], refused = receipt_checks.receive_goods(
            conn, clock, settings, fresh, plan.ledger[receipt_checks.TABLE])
        rejected.update(refused)
    for name, writes in plan.lww.items():
        store.apply_lww(conn, name, writes, rev)
    for name, rows in plan.ledger.items():
        store.apply_ledger(conn, name, rows)
    received = dt.datetime.now(dt.UTC)
    by_seq = {c.seq: c for c in fresh}
    if rejected:
        conn.execute(insert(rejection), [
            {"site": site, "user": principal.user, "seq": r.seq, "table_name": _storable(by_seq[r.seq].table),
             "pk": _storable(by_seq[r.seq].pk), "ts": by_seq[r.seq].ts,
             "vals": _kept_vals(by_seq[r.seq].vals),
             "reason": r.reason, "detail": r.detail, "received_at": received}
            for r in rejected.values()
        ])
    if plan.conflicts:
        conn.execute(insert(conflict), [{**c, "site": site, "user": principal.user,
                                         "received_at": received} for c in plan.conflicts])
    new_acked = fresh[-1].seq
    conn.execute(_ACK, {"site": site, "acked": new_acked, "seen": received})
    max_ts = max((c.change.ts for c in checked), default=0)
    return new_acked, [*(earlier[s] for s in sorted(earlier)), *(rejected[s] for s in sorted(rejected))], max_ts


# statements made once (building one costs more than running it)
_ACKED = select(device.c.acked_seq, device.c.revoked_at).where(device.c.id == bindparam("site"))
_ACKED_FOR_UPDATE = _ACKED.with_for_update()
_EARLIER = (select(rejection.c.seq, rejection.c.reason, rejection.c.detail)
            .where(rejection.c.site == bindparam("site"), rejection.c.seq >= bindparam("lo"),
                   rejection.c.seq <= bindparam("hi")))
_ACK = (update(device).where(device.c.id == bindparam("site"))
        .values(acked_seq=bindparam("acked"), last_seen_at=bindparam("seen")))


@dataclass
class _Plan:
    lww: dict[str, list[store.LwwWrite]] = field(default_factory=lambda: defaultdict(list))
    ledger: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[int, Rejection] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def _resolve(conn: Connection, principal: Principal, checked: list[Checked], rev: int) -> _Plan:
    """Check each change against stored rows (scopes, immutability, status order) in seq order,
    seeing the batch's own earlier changes, and turn the survivors into bulk-merge rows."""
    state = _load_state(conn, principal, checked)
    plan = _Plan()
    site = principal.device_id or ""
    role = principal.role

    for ch in checked:
        c, t, key = ch.change, ch.table, (ch.table.name, ch.change.pk)
        policy = _policy(t.name, role)
        row = state.get(key)
        if not policy.everyone:
            why = _scope_violation(ch, row, principal, state)
            if why is not None:
                plan.rejected[c.seq] = Rejection(seq=c.seq, reason="forbidden", detail=why)
                continue
        if t.kind is Kind.LEDGER:
            if row is not None:
                diff = [n for n in ch.vals if _differs(row.get(n), ch.vals[n])]
                diff += [col.name for col in t.columns if col.name not in ch.vals and row.get(col.name) is not None]
                if diff:
                    plan.rejected[c.seq] = Rejection(
                        seq=c.seq, reason="immutable",
                        detail=f"{t.name} {c.pk} was already written with other values ({', '.join(sorted(diff))}); "
                               "ledger rows never change: write a compensating row instead")
                continue  # an identical re-send is already stored
            new_row = {col.name: ch.vals.get(col.name) for col in t.columns}
            state[key] = new_row
            plan.ledger[t.name].append({"id": c.pk, **new_row, "_ts": c.ts, "_site": site, "_rev": rev})
            continue
        vals = ch.vals
        writes_status = policy.writes_status(vals)
        if writes_status and row is not None:
            vals = dict(vals)
            for name in [n for n in vals if n in policy.status]:
                col = t.by_name[name]
                if col.rank(vals[name]) < col.rank(row.get(name)):
                    plan.conflicts.append({
                        "seq": c.seq, "table_name": t.name, "pk": c.pk, "column_name": name, "ts": c.ts,
                        "attempted": str(vals[name]), "current": str(row.get(name))})
                    del vals[name]
        if not vals:
            continue
        if row is not None or policy.always or writes_status:
            # later changes of this batch check scopes and status order against this one
            if row is None:
                row = state[key] = {}
            for name, value in vals.items():
                col = t.column(name)
                rank = col.rank(value) if col is not None and col.is_status else 0
                v = version_bytes(c.ts, site, rank)
                old = row.get(version_col(name))
                if old is None or v > old:
                    row[name], row[version_col(name)] = value, v
        plan.lww[t.name].append(store.LwwWrite(c.pk, c.ts, site, vals))
    return plan


@dataclass(frozen=True)
class _Policy:
    """What the checks against stored rows need for one table and role, decided once."""

    scope: Scope
    everyone: bool  # the role may write every row: no scope to check
    always: bool  # every change needs its stored row (a ledger, or a scope to check)
    status: frozenset[str]  # status columns: a change writing one needs its stored row

    def writes_status(self, vals: dict[str, Any]) -> bool:
        return bool(self.status) and not self.status.isdisjoint(vals)


@cache
def _policy(name: str, role: Role) -> _Policy:
    t = REGISTRY[name]
    rule = t.write_rule(role)
    scope: Scope = rule.scope if rule is not None else Everyone()
    everyone = isinstance(scope, Everyone)
    return _Policy(scope=scope, everyone=everyone, always=t.kind is Kind.LEDGER or not everyone,
                   status=frozenset(c.name for c in t.columns if c.is_status))


def _kept_vals(vals: dict[str, Any], limit: int = 100_000) -> str:
    """The refused values as JSON for the quarantine; an oversized one is summarised, never cut
    into invalid JSON."""
    text = json.dumps(vals, default=str)
    if len(text) <= limit:
        return text
    return json.dumps({"_truncated": True, "size": len(text), "columns": sorted(vals)[:64]})


def _storable(text: str, limit: int = 64) -> str:
    """Text as a device sent it, made safe to keep: PostgreSQL text cannot hold NUL."""
    return text[:limit].replace("\x00", "\ufffd")


def _differs(stored: Any, incoming: Any) -> bool:
    return to_wire(stored) != to_wire(incoming) and stored != incoming


def _load_state(conn: Connection, principal: Principal,
                      checked: list[Checked]) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored rows that the checks need: ledger rows being re-sent, rows with status columns,
    rows under a scope, and the parents that scope rows hang from."""
    needs: dict[str, set[str]] = defaultdict(set)
    vias: list[tuple[str, str, Via]] = []
    role = principal.role
    for ch in checked:
        t, pk = ch.table, ch.change.pk
        policy = _policy(t.name, role)
        if policy.always or policy.writes_status(ch.vals):
            needs[t.name].add(pk)
        scope = policy.scope
        if isinstance(scope, Via):
            vias.append((t.name, pk, scope))
            parent = ch.vals.get(scope.column)
            if parent is not None:
                needs[scope.parent].add(str(parent))
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for name, pks in needs.items():
        for pk, row in store.fetch_rows(conn, name, pks).items():
            state[(name, pk)] = row
    later: dict[str, set[str]] = defaultdict(set)
    for name, pk, via in vias:
        row = state.get((name, pk))
        if row is not None and row.get(via.column) and (via.parent, row[via.column]) not in state:
            later[via.parent].add(row[via.column])
    for name, pks in later.items():
        for pk, row in store.fetch_rows(conn, name, pks).items():
            state[(name, pk)] = row
    return state


def _scope_violation(ch: Checked, row: dict[str, Any] | None, principal: Principal,
                     state: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    """Why this device may not write this row, or None when it may."""
    t = ch.table
    rule = t.write_rule(principal.role)
    scope = rule.scope if rule is not None else Everyone()
    if isinstance(scope, Everyone):
        return None
    if isinstance(scope, OwnedBy | InWarehouse):
        col, want = scope.column, expected_value(scope, principal)
        what = "user" if isinstance(scope, OwnedBy) else "warehouse"
        if want is None:
            return f"this device has no {what}, so it may not write {t.name}"
        if row is not None and row.get(col) != want:
            return f"{t.name} {ch.change.pk} has {col} {row.get(col)!r}; this device may only write rows whose {col} is {want!r}"
        if col in ch.vals and ch.vals[col] != want:
            return f"{col} must be this device's {what} {want!r}, not {ch.vals[col]!r}"
        if row is None and col not in ch.vals:
            return f"a new {t.name} must set {col} to this device's {what} {want!r}"
        return None
    if isinstance(scope, Via):
        parents = []
        if row is not None and row.get(scope.column):
            parents.append(str(row[scope.column]))
        if scope.column in ch.vals:
            parents.append(str(ch.vals[scope.column]))
        if not parents:
            return f"a new {t.name} must name its {scope.column}"
        parent_rule = REGISTRY[scope.parent].write_rule(principal.role)
        parent_scope = parent_rule.scope if parent_rule is not None else None
        for pid in parents:
            prow = state.get((scope.parent, pid))
            if prow is None:
                return f"{scope.parent} {pid} is unknown to the server; push it before its {t.name} rows"
            if isinstance(parent_scope, OwnedBy | InWarehouse):
                want = expected_value(parent_scope, principal)
                if prow.get(parent_scope.column) != want:
                    return f"{scope.parent} {pid} is not this device's to change"
            elif not isinstance(parent_scope, Everyone):
                return f"this device may not write {scope.parent} rows, nor their {t.name} rows"
        return None
    return f"this device may not write {t.name}"
