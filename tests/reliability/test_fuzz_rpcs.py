"""Fuzzing every RPC of RegistrationService, AuditService and AttendanceService through the real
processes: random messages generated from the descriptors (hypothesis), and bodies that are not
valid messages at all, as admins, teachers, students, the gateway, anonymous and forged callers.

No call may be answered INTERNAL or UNKNOWN (nor hang), no process may die, and a request with
ids that do not exist changes nothing stored (audit events and Zoom pacing state aside: a refused
call is audited by design). Short: a few hundred inputs; ROLLCALL_SOAK=1: over 10,000.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import grpc
import psycopg
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from psycopg import sql
from rollcall.attendance.v1 import attendance_service_pb2
from rollcall.audit.v1 import audit_service_pb2
from rollcall.registration.v1 import registration_service_pb2 as registration_pb

from common.db import libpq_url
from tests.conftest import service_env
from tests.integration.registration.conftest import Replica, start_replica
from tests.reliability.conftest import BASE_SEED, Report, by_mode
from tests.reliability.message_strategies import KnownValues, malformed_bodies, messages
from tests.support.database import fresh_database
from tests.support.emulator import EmulatorProcess
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.school import SchoolClass, add_meeting, seed_class
from tests.support.tokens import token_for

# Inputs per RPC (27 RPCs): ids unknown, known ids mixed in, malformed bodies.
UNKNOWN_IDS, KNOWN_IDS, MALFORMED = by_mode((6, 3, 3), (260, 100, 60))  # soak: 420 per RPC, 10,500 in all
FORBIDDEN = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
# Written by every call whatever its outcome: the audit log records refusals, the pacing state
# records Zoom calls. Everything else must stay as it was when no call was accepted.
NOT_COMPARED = {"audit_events", "zoom_rate_slots", "zoom_daily_usage", "alembic_version"}
MUTATING_PREFIXES = ("Register", "Start", "Cancel", "Create", "Link", "Update", "Record", "Ingest", "Sync")


@dataclass(frozen=True)
class Rpc:
    service: str  # "registration" or "attendance": which process serves it
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def mutating(self) -> bool:
        return self.method.name.startswith(MUTATING_PREFIXES)

    def __str__(self) -> str:
        return self.method.name


def _rpcs() -> list[Rpc]:
    served = (
        ("registration", registration_pb.DESCRIPTOR.services_by_name["RegistrationService"]),
        ("registration", audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"]),
        ("attendance", attendance_service_pb2.DESCRIPTOR.services_by_name["AttendanceService"]),
    )
    return [Rpc(process, method) for process, service in served for method in service.methods]


RPCS = _rpcs()


@dataclass
class FuzzStats:
    inputs: Counter[str] = field(default_factory=Counter)  # by kind of input
    statuses: Counter[str] = field(default_factory=Counter)
    accepted_mutations: Counter[str] = field(default_factory=Counter)  # by RPC, with unknown ids

    def line(self) -> str:
        return ", ".join(f"{code} {n}" for code, n in self.statuses.most_common())


@dataclass
class FuzzTarget:
    """The two service processes on one fresh database, a seeded class, and a caller per role."""

    database_url: str
    registration: Replica
    attendance: ChildProcess
    attendance_target: str
    attendance_channel: grpc.Channel
    school: SchoolClass
    known: KnownValues
    callers: dict[str, tuple[tuple[str, str], ...]]

    def channel(self, rpc: Rpc) -> grpc.Channel:
        return self.registration.channel if rpc.service == "registration" else self.attendance_channel

    def call(self, rpc: Rpc, body: bytes, caller: str) -> grpc.StatusCode:
        """The call's status; a stream is left after its first messages (watches never end)."""
        metadata = self.callers[caller]
        try:
            if rpc.method.server_streaming:
                stream = self.channel(rpc).unary_stream(rpc.path, _raw, _raw)(body, metadata=metadata, timeout=15)
                for received, _ in enumerate(stream, start=1):
                    if received >= 2:
                        stream.cancel()
                        break
            else:
                self.channel(rpc).unary_unary(rpc.path, _raw, _raw)(body, metadata=metadata, timeout=15)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
        return grpc.StatusCode.OK


def _raw(body: bytes) -> bytes:
    """Bodies go out and answers come back as they are: the point is to send what no stub would."""
    return body


def _stored_state(database_url: str) -> dict[str, str]:
    """A checksum of every compared table's rows, as the owner (row-level security aside)."""
    with psycopg.connect(libpq_url(database_url)) as owner:
        tables = [
            str(name)
            for (name,) in owner.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
            if name not in NOT_COMPARED
        ]
        state = {}
        for table in tables:
            query = sql.SQL("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {} AS t").format(
                sql.Identifier(table)
            )
            row = owner.execute(query).fetchone()
            state[table] = hashlib.sha256(str(row[0] if row else "").encode()).hexdigest()
    return state


@pytest.fixture(scope="module")
def target(emulator: EmulatorProcess) -> Iterator[FuzzTarget]:
    """Its own database, so no other suite's background work moves the stored state."""
    with fresh_database() as database_url:
        school = seed_class(database_url, 3)
        meeting = add_meeting(database_url, school, emulator.root, start=datetime.now(UTC) + timedelta(days=3))
        registration = start_replica(database_url, emulator)
        port = free_port()
        attendance = start_python_module(
            "attendance-fuzz",
            "attendance_service",
            service_env(database_url, ROLLCALL_ATTENDANCE_PORT=str(port), **emulator.zoom_env()),
        )
        attendance_channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            eventually_sync(functools.partial(is_serving, f"127.0.0.1:{port}"), within=30, what="attendance serving")
            admin = (("authorization", f"Bearer {token_for(school.admin, 'admin')}"),)
            job = registration.stub.StartClassRegistration(
                registration_pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin
            ).job
            eventually_sync(
                lambda: (
                    registration.stub.GetRegistrationJob(
                        registration_pb.GetRegistrationJobRequest(job_id=job.job_id), metadata=admin
                    ).job.state
                    == registration_pb.JOB_STATE_COMPLETED
                ),
                within=60,
                what="the seeded class registered",
            )
            known = KnownValues(
                strings=[
                    str(school.class_id),
                    str(school.admin),
                    str(school.teacher),
                    *(str(s) for s in school.students),
                    job.job_id,
                    str(meeting.meeting_id),
                    date.today().isoformat(),
                ],
                integers=[meeting.meeting_id],
            )
            callers = {
                "admin": admin,
                "teacher": (("authorization", f"Bearer {token_for(school.teacher, 'teacher')}"),),
                "student": (("authorization", f"Bearer {token_for(school.students[0], 'student')}"),),
                "gateway": (("authorization", f"Bearer {token_for(uuid.uuid4(), 'service', 'zoom.webhooks')}"),),
                "anonymous": (),
                "forged": (("authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),),
            }
            yield FuzzTarget(
                database_url,
                registration,
                attendance,
                f"127.0.0.1:{port}",
                attendance_channel,
                school,
                known,
                callers,
            )
        finally:
            attendance_channel.close()
            attendance.stop()
            registration.stop()


@pytest.fixture(scope="module")
def stats(report: Report) -> Iterator[FuzzStats]:
    collected = FuzzStats()
    yield collected
    total = sum(collected.inputs.values())
    report(
        "fuzz-rpcs",
        "Fuzzing gRPC",
        [
            f"inputs {total} over {len(RPCS)} RPCs: "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(collected.inputs.items())),
            f"statuses: {collected.line()}",
            "accepted mutations with unknown ids: "
            + (", ".join(f"{rpc} {n}" for rpc, n in collected.accepted_mutations.items()) or "none"),
        ],
        {
            "inputs": total,
            "by_kind": dict(collected.inputs),
            "statuses": dict(collected.statuses),
            "accepted_mutations_unknown_ids": dict(collected.accepted_mutations),
        },
    )


CALLERS = st.sampled_from(["admin", "admin", "admin", "student", "teacher", "gateway", "anonymous", "forged"])


def _fuzz(
    target: FuzzTarget, rpc: Rpc, kind: str, bodies: st.SearchStrategy[bytes], examples: int, stats: FuzzStats
) -> None:
    """Sends `examples` bodies from `bodies`; hypothesis shrinks any failing one to a minimal case."""

    @seed(BASE_SEED)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, caller=CALLERS)
    def one(body: bytes, caller: str) -> None:
        code = target.call(rpc, body, caller)
        stats.inputs[kind] += 1
        stats.statuses[code.name] += 1
        if kind == "unknown ids" and rpc.mutating and code is grpc.StatusCode.OK:
            stats.accepted_mutations[str(rpc)] += 1
        assert code not in FORBIDDEN, f"{rpc.path} answered {code.name} to {caller} (seed {BASE_SEED})"
        assert rpc.method.server_streaming or code is not grpc.StatusCode.DEADLINE_EXCEEDED, f"{rpc.path} hung"

    one()


def _serialized(message: Message) -> bytes:
    return message.SerializeToString()


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_random_requests_with_unknown_ids_are_answered_and_change_nothing(
    target: FuzzTarget, stats: FuzzStats, rpc: Rpc
) -> None:
    before = _stored_state(target.database_url)
    accepted_before = stats.accepted_mutations[str(rpc)]

    _fuzz(target, rpc, "unknown ids", messages(rpc.method.input_type).map(_serialized), UNKNOWN_IDS, stats)

    after = _stored_state(target.database_url)
    if stats.accepted_mutations[str(rpc)] == accepted_before:
        assert [t for t in before if before[t] != after.get(t)] == [], "a refused request changed stored data"


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_bodies_that_are_not_messages_are_refused_and_change_nothing(
    target: FuzzTarget, stats: FuzzStats, rpc: Rpc
) -> None:
    before = _stored_state(target.database_url)

    _fuzz(target, rpc, "malformed", malformed_bodies(rpc.method.input_type), MALFORMED, stats)

    after = _stored_state(target.database_url)
    assert [t for t in before if before[t] != after.get(t)] == [], "a malformed request changed stored data"


@pytest.mark.parametrize("rpc", RPCS, ids=str)
def test_random_requests_with_known_ids_are_answered(target: FuzzTarget, stats: FuzzStats, rpc: Rpc) -> None:
    bodies = messages(rpc.method.input_type, target.known).map(_serialized)

    _fuzz(target, rpc, "known ids", bodies, KNOWN_IDS, stats)


def test_a_body_that_does_not_parse_is_invalid_argument_not_unknown(target: FuzzTarget) -> None:
    """Found by fuzzing: grpc answered UNKNOWN, with the parser's exception text, before the fix."""
    rpc = next(r for r in RPCS if r.method.name == "GetRegistrationJob")
    invalid_utf8_job_id = b"\x0a\x02\xc3\x28"

    assert target.call(rpc, invalid_utf8_job_id, "admin") is grpc.StatusCode.INVALID_ARGUMENT
    assert target.call(rpc, b"\x0a\xff\xff\xff\xff\x0f", "admin") is grpc.StatusCode.INVALID_ARGUMENT


def test_a_refused_request_leaves_its_request_id_free_for_the_corrected_request(target: FuzzTarget) -> None:
    """Found by fuzzing: a refused LinkZoomMeeting kept its idempotency key, so the corrected
    request with the same request_id was refused as IDEMPOTENCY_KEY_REUSED."""
    stub = target.registration.stub
    key = f"link-{uuid.uuid4()}"
    admin = target.callers["admin"]
    wrong = registration_pb.LinkZoomMeetingRequest(request_id=key, class_id=str(uuid.uuid4()), meeting_id=123456789)
    corrected = registration_pb.LinkZoomMeetingRequest(request_id=key, class_id=str(uuid.uuid4()), meeting_id=987654321)
    codes = []
    for request in (wrong, corrected):
        with pytest.raises(grpc.RpcError) as refused:
            stub.LinkZoomMeeting(request, metadata=admin, timeout=10)
        codes.append(refused.value.code())

    assert codes == [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.NOT_FOUND]
    with psycopg.connect(libpq_url(target.database_url)) as owner:
        kept = owner.execute("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,)).fetchone()
    assert kept == (0,)


def test_both_processes_still_serve_after_fuzzing(target: FuzzTarget) -> None:
    for process in (target.registration.process, target.attendance):
        assert process.process.poll() is None, f"{process.name} died:\n{process.log()[-3000:]}"
    assert is_serving(target.registration.target)
    assert is_serving(target.attendance_target)
