"""QR check-in: signed, short-lived, rotating codes and the enrolled student's check-in with one.

A code is HMAC-SHA256-signed (key from the environment, never the database) over the class, the
meeting, the class date and its expiry. Codes are deterministic per rotation window, so asking
twice within a window shows the same code. The client IP is kept only as HMAC-SHA256 under a
separate secret key with its key id, and only when the gateway vouches for it: the gateway sends
its own service token (scope `gateway`) beside the student's, so a student cannot claim an IP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from attendance_service.domain import AttendanceStatus, local_date, scheduled_start_of_instance
from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.read_models import ClassInfo, MeetingInfo, RecordView
from common.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unauthenticated
from common.security.ip_pseudonym import IpPseudonym, IpPseudonymKeys, ip_digest
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal

__all__ = ["GATEWAY_SCOPE", "IssuedCode", "QrCheckIns", "QrKeys", "QrStore", "hash_client_ip"]

GATEWAY_SCOPE = "gateway"
_UNVERIFIED = "unverified"  # key id of check-ins whose IP no gateway vouched for


@dataclass(frozen=True, slots=True)
class QrKeys:
    """Secrets and timings of QR check-in (see attendance_service.config). `ip_hash_key` writes;
    `ip_previous_keys` (id -> key) still verify IPs hashed before a rotation."""

    signing_key: bytes
    ip_hash_key: bytes
    ip_key_id: str
    validity: timedelta = timedelta(seconds=90)
    rotation: timedelta = timedelta(seconds=30)
    check_in_base_url: str = "http://127.0.0.1:8080"
    ip_previous_keys: Mapping[str, bytes] = field(default_factory=dict)

    def ip_keys(self) -> IpPseudonymKeys:
        return IpPseudonymKeys(self.ip_key_id, {**self.ip_previous_keys, self.ip_key_id: self.ip_hash_key})


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expire_time: datetime
    check_in_url: str
    rotation: timedelta


@dataclass(frozen=True, slots=True)
class _Payload:
    class_id: uuid.UUID
    meeting_id: int | None
    day: date
    expires: datetime
    code_id: str


def hash_client_ip(key: bytes, ip: str) -> bytes:
    """HMAC-SHA256 of the normalised address; IPv6 by /64, the block one household or device is given."""
    return ip_digest(key, ip)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class QrStore(Protocol):
    async def school_class(self, class_id: uuid.UUID, caller: uuid.UUID | None) -> tuple[ClassInfo, bool] | None: ...

    async def meeting_info(self, meeting_id: int) -> MeetingInfo | None: ...

    async def lock_session(self, class_id: uuid.UUID, day: date) -> None: ...

    async def add_check_in(
        self,
        *,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        meeting_id: int | None,
        code_id: str,
        ip_hash: bytes,
        ip_key_id: str,
    ) -> bool: ...

    async def students_on_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> int: ...

    async def flag_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> None: ...

    async def check_in_flagged(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> bool: ...

    async def set_qr_record(
        self,
        *,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        meeting_id: int | None,
        status: AttendanceStatus,
        checked_in_at: datetime,
    ) -> None: ...

    async def record(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> RecordView | None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


class QrCheckIns:
    """CreateQrCheckInCode and RecordQrCheckIn; `verify_token` checks the gateway's own token."""

    def __init__(
        self,
        db: Transactions[QrStore],
        keys: QrKeys | None,
        verify_token: Callable[[str], Awaitable[Principal]],
        clock: Clock = system_clock,
    ) -> None:
        self._db = db
        self._keys = keys
        self._verify_token = verify_token
        self._clock = clock
        self._ip_keys = keys.ip_keys() if keys else None

    def _require_keys(self) -> QrKeys:
        if self._keys is None:
            raise FailedPrecondition("QR check-in is not configured for this deployment", reason="QR_NOT_CONFIGURED")
        return self._keys

    def _sign(self, keys: QrKeys, body: str) -> bytes:
        return hmac.new(keys.signing_key, b"rollcall-qr-v1|" + body.encode(), hashlib.sha256).digest()[:16]

    async def create_code(self, principal: Principal, class_id: uuid.UUID, meeting_id: int) -> IssuedCode:
        keys = self._require_keys()
        async with self._db.as_caller(principal) as store:
            found = await store.school_class(class_id, principal.user_id)
            authorize(principal, Action.CREATE_QR_CODE, Facts(class_teacher_id=found[0].teacher_id if found else None))
            assert found is not None  # only the class's teacher passes, and they can see it
            if meeting_id:
                meeting = await store.meeting_info(meeting_id)
                if meeting is None or meeting.class_id != class_id:
                    raise FailedPrecondition("the meeting is not one of the class's", reason="MEETING_NOT_IN_CLASS")
            await store.audit(principal, Action.CREATE_QR_CODE.value, target_type="class", target_id=str(class_id))
        now = self._clock()
        window = int(now.timestamp() // keys.rotation.total_seconds())
        expires = datetime.fromtimestamp(window * keys.rotation.total_seconds(), UTC) + keys.validity
        day = local_date(now, found[0].timezone)
        body = f"{class_id}|{meeting_id or ''}|{day.isoformat()}|{int(expires.timestamp())}"
        code = f"{_b64(body.encode())}.{_b64(self._sign(keys, body))}"
        return IssuedCode(code, expires, f"{keys.check_in_base_url}/check-in/?code={code}", keys.rotation)

    def _verify(self, keys: QrKeys, code: str) -> _Payload:
        invalid = InvalidArgument(FieldViolation("code", "not a valid check-in code"))
        try:
            encoded_body, encoded_mac = code.strip().split(".")
            body = _unb64(encoded_body).decode()
            mac = _unb64(encoded_mac)
        except (ValueError, UnicodeDecodeError):
            raise invalid from None
        if not hmac.compare_digest(mac, self._sign(keys, body)):
            raise invalid
        class_id, meeting_id, day, expires = body.split("|")
        payload = _Payload(
            uuid.UUID(class_id),
            int(meeting_id) if meeting_id else None,
            date.fromisoformat(day),
            datetime.fromtimestamp(int(expires), UTC),
            mac[:8].hex(),
        )
        if self._clock() > payload.expires:
            raise FailedPrecondition("the check-in code has expired; scan the current one", reason="QR_CODE_EXPIRED")
        return payload

    async def _network(self, keys: QrKeys, client_ip: str | None, gateway_token: str | None) -> tuple[IpPseudonym, ...]:
        """The client IP's pseudonyms when the gateway vouches for it (the current key's first: it is
        the one stored; older keys' find check-ins made before a rotation), else an unverified mark."""
        if client_ip and gateway_token:
            try:
                vouching = await self._verify_token(gateway_token)
            except Unauthenticated:
                vouching = None
            if vouching is not None and vouching.role == "service" and vouching.has_scope(GATEWAY_SCOPE):
                try:
                    assert self._ip_keys is not None  # built with `keys`
                    return self._ip_keys.candidates(client_ip)
                except ValueError:
                    raise InvalidArgument(FieldViolation("x-rollcall-client-ip", "not an IP address")) from None
        return (IpPseudonym(_UNVERIFIED, hmac.new(keys.ip_hash_key, _UNVERIFIED.encode(), hashlib.sha256).digest()),)

    async def check_in(
        self, principal: Principal, code: str, *, client_ip: str | None, gateway_token: str | None
    ) -> tuple[RecordView, bool]:
        """Records the calling student's check-in (the first one of the day stays) and whether its
        network checked in more students than the class allows (or no gateway vouched for it)."""
        keys = self._require_keys()
        payload = self._verify(keys, code)
        network = await self._network(keys, client_ip, gateway_token)
        async with self._db.as_caller(principal) as store:
            found = await store.school_class(payload.class_id, principal.user_id)
            facts = Facts(
                class_teacher_id=found[0].teacher_id if found else None,
                caller_enrolled=bool(found and found[1]),
                student_id=principal.user_id,
            )
            authorize(principal, Action.RECORD_QR_CHECK_IN, facts)
        assert found is not None
        school_class = found[0]
        now = self._clock()
        # Other students' check-ins are invisible to this student: the count runs as the service.
        async with self._db.as_system() as store:
            status = await self._status(store, school_class, payload.meeting_id, now)
            await store.lock_session(payload.class_id, payload.day)
            await store.add_check_in(
                class_id=payload.class_id,
                student_id=principal.user_id,
                day=payload.day,
                meeting_id=payload.meeting_id,
                code_id=payload.code_id,
                ip_hash=network[0].digest,
                ip_key_id=network[0].key_id,
            )
            # Each check-in row has one key id, so the counts under each key add up without overlap.
            on_network = 0
            for seen in network:
                on_network += await store.students_on_network(payload.class_id, payload.day, seen.digest, seen.key_id)
            if on_network > school_class.qr_ip_limit or network[0].key_id == _UNVERIFIED:
                for seen in network:
                    await store.flag_network(payload.class_id, payload.day, seen.digest, seen.key_id)
            flagged = await store.check_in_flagged(payload.class_id, principal.user_id, payload.day)
            await store.set_qr_record(
                class_id=payload.class_id,
                student_id=principal.user_id,
                day=payload.day,
                meeting_id=payload.meeting_id,
                status=status,
                checked_in_at=now,
            )
            record = await store.record(payload.class_id, principal.user_id, payload.day)
            await store.audit(
                principal,
                Action.RECORD_QR_CHECK_IN.value,
                target_type="class",
                target_id=str(payload.class_id),
                detail=f"code={payload.code_id} flagged={flagged}",
            )
        if record is None:
            raise FailedPrecondition(
                "the check-in was stored but its record is not visible", reason="RECORD_NOT_VISIBLE"
            )
        return record, flagged

    async def _status(
        self, store: QrStore, school_class: ClassInfo, meeting_id: int | None, now: datetime
    ) -> AttendanceStatus:
        """Late when checking in past the class's late threshold after the meeting's start."""
        meeting = await store.meeting_info(meeting_id) if meeting_id else None
        if meeting is None or meeting.start_time is None:
            return AttendanceStatus.PRESENT
        start = scheduled_start_of_instance(meeting.start_time, now, school_class.timezone)
        late = now > start + school_class.policy.late_after
        return AttendanceStatus.LATE if late else AttendanceStatus.PRESENT
