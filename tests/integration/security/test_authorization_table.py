"""Every (caller, RPC, target) cell of the authorization table, answered by the real service
processes over gRPC, and the table itself checked against the policy in common.security.policy."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

import grpc
import pytest
from rollcall.attendance.v1 import attendance_service_pb2
from rollcall.audit.v1 import audit_service_pb2
from rollcall.registration.v1 import registration_service_pb2

from common.security.policy import POLICY
from tests.integration.security.authorization_table import (
    CALLS,
    CODES,
    EXISTING,
    MISSING,
    Who,
    call,
    expected,
    metadata_for,
    relations,
)
from tests.integration.security.conftest import Clients, World

_DESCRIPTORS = {
    "attendance": attendance_service_pb2.DESCRIPTOR.services_by_name["AttendanceService"],
    "audit": audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"],
    "registration": registration_service_pb2.DESCRIPTOR.services_by_name["RegistrationService"],
}


def _rows(table: str) -> set[str]:
    return {line.split()[0] for line in table.strip().splitlines()[1:]}


def test_the_table_has_a_row_for_every_rpc_and_every_policy_action() -> None:
    defined = {method.name for service in _DESCRIPTORS.values() for method in service.methods}
    assert set(CALLS) == defined == _rows(EXISTING)
    assert _rows(MISSING) == {name for name, rpc in CALLS.items() if rpc.target != "none"}
    assert {rpc.action for rpc in CALLS.values()} == set(POLICY)
    for name, rpc in CALLS.items():
        assert name in {m.name for m in _DESCRIPTORS[rpc.service].methods}


@pytest.mark.parametrize("who", list(Who), ids=lambda who: who.value)
@pytest.mark.parametrize("name", list(CALLS))
def test_the_table_lets_in_exactly_whom_the_policy_does(name: str, who: Who) -> None:
    rpc = CALLS[name]
    for target_exists in (True, False):
        code = expected(name, who, target_exists=target_exists)
        if code is None:
            continue
        if who is Who.ANONYMOUS:
            assert code == "UN"
            continue
        held = relations(who, rpc.action, rpc.target, target_exists=target_exists)
        assert (code != "--") is bool(held & POLICY[rpc.action]), (name, who, target_exists, code)
    if expected(name, who, target_exists=True) == "--":
        assert expected(name, who, target_exists=False) in (None, "--")  # refused either way


@dataclass(frozen=True)
class Outcome:
    """Everything a caller learns from an answer: the code, the message and the rich details."""

    code: grpc.StatusCode
    message: str
    details: bytes


async def _outcome(made: Awaitable[None]) -> Outcome:
    try:
        await made
    except grpc.aio.AioRpcError as error:
        trailers = dict(error.trailing_metadata() or ())
        details = trailers.get("grpc-status-details-bin", b"")
        return Outcome(error.code(), error.details() or "", details if isinstance(details, bytes) else b"")
    return Outcome(grpc.StatusCode.OK, "", b"")


@pytest.mark.parametrize("who", list(Who), ids=lambda who: who.value)
@pytest.mark.parametrize("name", list(CALLS))
async def test_the_running_services_answer_each_caller_as_the_table_says(
    clients: Clients, world: World, name: str, who: Who
) -> None:
    metadata = metadata_for(who, world, CALLS[name].action)
    existing = await _outcome(call(name, clients, world, target_exists=True, metadata=metadata))
    assert existing.code == CODES[expected(name, who, target_exists=True) or "?"], existing
    missing_code = expected(name, who, target_exists=False)
    if missing_code is None:
        return
    missing = await _outcome(call(name, clients, world, target_exists=False, metadata=metadata))
    assert missing.code == CODES[missing_code], missing
    if existing.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
        # Word for word the same refusal: nothing tells a caller who may not know whether it exists.
        assert missing == existing
