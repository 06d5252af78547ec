"""`python -m attendance_service`: serves AttendanceService (default port 50052).

Wiring only: settings, the unit-of-work factory and its statement pipeline for participants reads,
the Zoom client (when credentials are set), the sync worker, the roster hub, the use cases, the
servicer and the hourly housekeeping.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from rollcall.attendance.v1 import attendance_service_pb2

from attendance_service.config import AttendanceSettings
from attendance_service.live import RosterHub
from attendance_service.qr import QrCheckIns
from attendance_service.records import RecordKeeping
from attendance_service.repository import Database
from attendance_service.service import MeetingReads
from attendance_service.servicer import AttendanceServicer, UseCases, register
from attendance_service.sync import AttendanceSync, ZoomReportSource
from attendance_service.sync_worker import SyncWorker
from attendance_service.webhooks import WebhookIngest
from common.bootstrap import Closeable, Engines, run_grpc_process
from common.config import ConfigError, Settings
from common.db.engine import libpq_url_of
from common.db.statement_pipeline import StatementPipeline
from common.grpc import ServiceDefinition
from common.housekeeping import Chore, Housekeeping
from common.security.tokens import verifier_from_settings
from common.zoom.factory import zoom_client_from_settings


async def build_services(
    own: AttendanceSettings, settings: Settings, engines: Engines
) -> Sequence[ServiceDefinition | Closeable]:
    """The AttendanceService of one process, with its sync worker started when Zoom is configured.
    Its own work (syncs, webhooks) still states its identity per transaction on the callers' engine."""
    engine = engines.callers
    own_connections_url = libpq_url_of(engine)  # the participants reads' and the roster listener's
    reads = StatementPipeline(own_connections_url, size=own.read_connections, application_name="attendance-reads")
    db = Database(engine, reads)
    source = ZoomReportSource(zoom_client_from_settings(settings, engine)) if settings.zoom.has_credentials else None
    sync = AttendanceSync(db, source)
    worker = SyncWorker(sync, db, own.sync_delays_seconds)
    if source is not None:
        worker.start()
    use_cases = UseCases(
        reads=MeetingReads(db, held_views=own.held_views),
        records=RecordKeeping(db),
        sync=sync,
        webhooks=WebhookIngest(db, worker.first_attempt_at, worker.wake),
        qr=QrCheckIns(db, own.qr, verifier_from_settings(settings).verify),
        roster=RosterHub(own_connections_url, db),
    )
    servicer = AttendanceServicer(use_cases, held_responses=own.held_views)
    housekeeping = Housekeeping([Chore("webhook_events", functools.partial(_forget_events, db, own.webhook_retention))])
    housekeeping.start()
    return (
        ServiceDefinition(
            attendance_service_pb2.DESCRIPTOR.services_by_name["AttendanceService"].full_name,
            functools.partial(register, servicer),
        ),
        reads,
        housekeeping,
    )


async def _forget_events(db: Database, retention: timedelta) -> int:
    async with db.as_system() as store:
        return await store.forget_events_older_than(retention)


def main() -> None:
    try:
        own = AttendanceSettings.from_env(os.environ, Settings.from_env())
    except ConfigError as exc:
        sys.stderr.write(f"attendance: configuration error: {exc}\n")
        raise SystemExit(2) from None
    run_grpc_process(
        "attendance",
        lambda settings: settings.attendance_port,
        lambda settings: settings.attendance_metrics_port,
        functools.partial(build_services, own),
    )


if __name__ == "__main__":
    main()
