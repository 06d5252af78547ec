"""The demo school as pure data: a Region 1 school with three classes, built deterministically.

Every id derives from a name (uuid5) and meeting times from the ISO week, so loading twice in one
week changes nothing, and a week later adds that week's meetings.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DemoClass", "DemoMeeting", "DemoSchool", "DemoUser", "build_demo_school"]

# DemoMeeting has a field named `uuid`, which hides the module inside its class body.
UUIDValue = uuid.UUID
_NAMESPACE = uuid.UUID("6f1c1f0e-5b7a-4f57-9b43-2f7c0b1d9a10")
_MANILA = ZoneInfo("Asia/Manila")
DOMAIN = "r1.deped.gov.ph"
SCHOOL_YEAR = "2026-2027"

_FIRST = (
    "Andrea",
    "Bea",
    "Carlo",
    "Daniel",
    "Elaine",
    "Francis",
    "Gabriel",
    "Hannah",
    "Isabel",
    "Jasmine",
    "Kristine",
    "Leonardo",
    "Marco",
    "Nicole",
    "Oscar",
    "Patricia",
    "Queenie",
    "Rafael",
    "Sofia",
    "Tristan",
    "Ulysses",
    "Victoria",
    "Wilfredo",
    "Ximena",
    "Ysabel",
    "Zandro",
    "Angelica",
    "Bryan",
    "Camille",
    "Dominic",
    "Erika",
    "Fernando",
    "Gia",
    "Hector",
    "Iñigo",
    "Jericho",
    "Katrina",
    "Lorenzo",
    "Mikaela",
    "Nathaniel",
)
_LAST = (
    "Santos",
    "Reyes",
    "Cruz",
    "Bautista",
    "Ocampo",
    "Garcia",
    "Mendoza",
    "Torres",
    "Tomas",
    "Andrada",
    "Castillo",
    "Flores",
    "Villanueva",
    "Ramos",
    "Castro",
    "Rivera",
    "Aquino",
    "Navarro",
    "Salazar",
    "Mercado",
    "Domingo",
    "Gutierrez",
    "Dela Peña",
    "Agustin",
    "Pascual",
    "Soriano",
    "Valdez",
    "Ilagan",
    "Galang",
    "Tolentino",
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    id: uuid.UUID
    email: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class DemoClass:
    id: uuid.UUID
    name: str
    section: str
    teacher: DemoUser
    students: tuple[DemoUser, ...]


@dataclass(frozen=True, slots=True)
class DemoMeeting:
    id: int
    uuid: str
    class_id: UUIDValue
    host_id: str
    topic: str
    meeting_type: int
    start_time: datetime
    duration_minutes: int
    approval_type: int
    status: str


@dataclass(frozen=True, slots=True)
class DemoSchool:
    admin: DemoUser
    service: DemoUser
    classes: tuple[DemoClass, ...]
    meetings: tuple[DemoMeeting, ...]

    @property
    def users(self) -> tuple[DemoUser, ...]:
        people = [self.admin, self.service]
        for school_class in self.classes:
            people.append(school_class.teacher)
            people.extend(school_class.students)
        unique = {user.id: user for user in people}
        return tuple(unique.values())


def _user(email: str, display_name: str, role: str) -> DemoUser:
    return DemoUser(uuid.uuid5(_NAMESPACE, email.lower()), email, display_name, role)


def _slug(name: str) -> str:
    return name.lower().replace("ñ", "n").replace(" ", "")


def _students(section: str, count: int, offset: int) -> list[DemoUser]:
    students = []
    for index in range(count):
        first = _FIRST[(index * 7 + offset) % len(_FIRST)]
        last = _LAST[(index * 11 + offset * 3) % len(_LAST)]
        email = f"{_slug(first)}.{_slug(last)}.{section.lower()}{index + 1:02d}@{DOMAIN}"
        students.append(_user(email, f"{first} {last}", "student"))
    return students


def _meeting_id(key: str) -> int:
    """A stable Zoom-like id above 2^32, as real Zoom ids are (10-11 digits)."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return 80_000_000_000 + digest % 9_999_999_999


def _meeting_uuid(key: str) -> str:
    raw = hashlib.sha256(("uuid:" + key).encode()).digest()[:16]
    return base64.b64encode(raw).decode()


def _manila(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), _MANILA).astimezone(UTC)


def _meetings_for(school_class: DemoClass, host_id: str, monday: date, index: int) -> list[DemoMeeting]:
    """Last week's Thursday and Friday (ended), next week's Monday and Wednesday (upcoming, type 2),
    and a weekly recurring meeting (type 8) from next Tuesday; classes start 07:30 Manila."""
    hour, minute = (7, 30) if index == 0 else (9 + index, 0)
    plans = [
        (monday - timedelta(days=4), 2, 0, "ended"),
        (monday - timedelta(days=3), 2, 0, "ended"),
        (monday + timedelta(days=7), 2, 0, "scheduled"),
        (monday + timedelta(days=9), 2, 1 if index == 1 else 0, "scheduled"),
        (monday + timedelta(days=8), 8, 0, "scheduled"),
    ]
    meetings = []
    for day, meeting_type, approval, status in plans:
        key = f"{school_class.id}:{day.isoformat()}:{meeting_type}"
        kind = "Weekly consultation" if meeting_type == 8 else "Online class"
        meetings.append(
            DemoMeeting(
                id=_meeting_id(key),
                uuid=_meeting_uuid(key),
                class_id=school_class.id,
                host_id=host_id,
                topic=f"{school_class.name}: {kind} {day.isoformat()}",
                meeting_type=meeting_type,
                start_time=_manila(day, hour, minute),
                duration_minutes=60,
                approval_type=approval,
                status=status,
            )
        )
    return meetings


def build_demo_school(today: date) -> DemoSchool:
    """The demo school for the ISO week of `today` (Manila date)."""
    monday = today - timedelta(days=today.weekday())
    admin = _user(f"admin@{DOMAIN}", "Region 1 Administrator", "admin")
    service = _user(f"lis-sync@{DOMAIN}", "LIS attendance sync", "service")
    layout = (
        ("Grade 7", "Sampaguita", "Maria Santos", 34),
        ("Grade 8", "Narra", "Jose Reyes", 38),
        ("Grade 9", "Molave", "Ana Cruz", 31),
    )
    classes = []
    for index, (grade, section, teacher_name, size) in enumerate(layout):
        teacher = _user(
            f"{_slug(teacher_name.split()[0])}.{_slug(teacher_name.split()[1])}@{DOMAIN}", teacher_name, "teacher"
        )
        students = _students(section, size, index)
        if index == 0:
            # Two students with the same name: attendance must never match either by name alone.
            students[-1] = _user(f"juan.delacruz.a@{DOMAIN}", "Juan Dela Cruz", "student")
            students[-2] = _user(f"juan.delacruz.b@{DOMAIN}", "Juan Dela Cruz", "student")
            # Students whose email is outside the allowed domain: registration refuses them.
            students.append(_user("pedro.penduko@gmail.com", "Pedro Penduko", "student"))
            students.append(_user(f"liza.manalo@{DOMAIN}.evil.example", "Liza Manalo", "student"))
        if index == 1:
            students.append(_user("carmela.deped@deped.gov.ph", "Carmela Lualhati", "student"))
        name = f"{grade} - {section}"
        classes.append(
            DemoClass(uuid.uuid5(_NAMESPACE, f"class:{SCHOOL_YEAR}:{name}"), name, section, teacher, tuple(students))
        )
    meetings: list[DemoMeeting] = []
    for index, school_class in enumerate(classes):
        host_id = f"demo-host-{_slug(school_class.section)}"
        meetings.extend(_meetings_for(school_class, host_id, monday, index))
    return DemoSchool(admin=admin, service=service, classes=tuple(classes), meetings=tuple(meetings))
