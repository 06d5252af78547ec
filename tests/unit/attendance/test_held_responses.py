"""Participants messages are built once per view, and a caller's newer view replaces the older
one's message instead of piling up beside it (a live meeting changes its view on every join)."""

from __future__ import annotations

from datetime import timedelta

from attendance_service.domain import Statistics
from attendance_service.messages import ParticipantsResponses
from attendance_service.read_models import MeetingInfo, ParticipantsView


def _view(topic: str) -> ParticipantsView:
    meeting = MeetingInfo(
        81234567890, None, topic, None, timedelta(minutes=60), "Asia/Manila", "started", None, None, "h"
    )
    no_one = Statistics(0, 0, 0, 0.0, timedelta(0), timedelta(0))
    return ParticipantsView(meeting, (), (), (), no_one, live=True)


def test_the_same_view_gives_the_same_message_object() -> None:
    held, view = ParticipantsResponses(8), _view("Math")
    assert held.of(("m", "u"), view) is held.of(("m", "u"), view)


def test_a_newer_view_of_the_same_caller_replaces_the_older_message() -> None:
    held = ParticipantsResponses(2)
    first = held.of(("m", "ana"), _view("first"))
    newer = held.of(("m", "ana"), _view("newer"))
    assert newer.meeting.topic == "newer"
    assert first.meeting.topic == "first"
    other = _view("other")
    kept = held.of(("m", "ben"), other)
    # Capacity 2 still holds ben's message: ana's two views took one place, not two.
    assert held.of(("m", "ben"), other) is kept


def test_a_held_message_is_serialized_once_and_its_bytes_handed_to_grpc() -> None:
    held, view = ParticipantsResponses(4), _view("Math")
    message = held.of(("m", "u"), view)
    assert held.serialize(message) is held.serialize(message)
    assert held.serialize(message) == message.SerializeToString()


def test_messages_no_longer_held_are_serialized_afresh() -> None:
    held = ParticipantsResponses(1)
    first = held.of(("m", "ana"), _view("first"))
    held.of(("m", "ben"), _view("second"))  # pushes ana's out
    assert held.serialize(first) == first.SerializeToString()
    assert held.serialize(first) is not held.serialize(first)
    nothing_held = ParticipantsResponses(0)
    message = nothing_held.of(("m", "u"), _view("x"))
    assert nothing_held.serialize(message) == message.SerializeToString()
    assert not nothing_held._wire
