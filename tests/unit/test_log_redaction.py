"""Logs are JSON with ids and never carry emails, IPs, tokens or join URLs."""

from __future__ import annotations

import json
import logging

from common.logs import _JsonFormatter, redact


def test_personal_data_and_secrets_are_redacted() -> None:
    text = redact(
        "juan@r1.deped.gov.ph from 203.0.113.7 and 2001:db8::1 with Bearer abc.def.ghi "
        "joined via https://zoom.us/w/123?tk=secret"
    )
    for leaked in ("juan@", "203.0.113.7", "2001:db8", "abc.def.ghi", "tk=secret"):
        assert leaked not in text


def test_records_are_one_json_object_with_the_event_and_extra_fields() -> None:
    record = logging.LogRecord("rollcall.test", logging.INFO, __file__, 1, "zoom.request", None, None)
    record.meeting_id = 81234567890
    record.note = "for maria@r1.deped.gov.ph"
    entry = json.loads(_JsonFormatter("test").format(record))
    assert entry["event"] == "zoom.request"
    assert entry["meeting_id"] == 81234567890
    assert "maria" not in entry["note"]
