"""`python -m registration_service`: serves RegistrationService and AuditService (default port 50051).

Wiring only: settings, the unit-of-work factory, the Zoom client (when credentials are set), the
job workers, the use cases and the servicers.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from rollcall.registration.v1 import registration_service_pb2, registration_service_pb2_grpc

from common.bootstrap import Closeable, Engines, OnShutdown, run_grpc_process
from common.config import ConfigError, Settings
from common.db import create_session_factory
from common.db.engine import libpq_url_of
from common.db.idempotency import Idempotency
from common.grpc import ServiceDefinition
from common.housekeeping import Chore, Housekeeping
from common.zoom.factory import zoom_client_from_settings
from registration_service.audit_servicer import audit_service_definition
from registration_service.catalog import Catalog
from registration_service.config import RegistrationSettings
from registration_service.domain import EmailDomainPolicy
from registration_service.job_changes import JobChanges
from registration_service.jobs import RegistrationJobs
from registration_service.register import StudentRegistration
from registration_service.registrar import Registrar
from registration_service.repository import Database
from registration_service.servicer import RegistrationServicer, UseCases
from registration_service.worker import RegistrationWorker, WorkerConfig


def _now() -> datetime:
    return datetime.now(UTC)


async def _build(
    own: RegistrationSettings, settings: Settings, engines: Engines
) -> Sequence[ServiceDefinition | Closeable]:
    engine = engines.callers
    sessions = create_session_factory(engine)
    db = Database(sessions, engines.system)
    zoom = zoom_client_from_settings(settings, engine) if settings.zoom.has_credentials else None
    registrar = Registrar(zoom) if zoom is not None else None
    domains = EmailDomainPolicy(settings.allowed_email_domains)
    worker_config = WorkerConfig(owner=own.owner, concurrency=own.workers, lease=own.lease)
    worker = RegistrationWorker(db, registrar, worker_config, _now) if registrar is not None else None
    if worker is not None:
        worker.start()
    idempotency = Idempotency(db.system_session)
    retention = own.idempotency_retention.total_seconds()
    housekeeping = Housekeeping(
        [Chore("idempotency_keys", functools.partial(idempotency.forget_older_than, retention))]
    )
    housekeeping.start()
    changes = JobChanges(libpq_url_of(engine))
    use_cases = UseCases(
        students=StudentRegistration(db, registrar, domains, _now, settings.zoom.deadline_seconds),
        jobs=RegistrationJobs(
            db,
            domains,
            _now,
            worker.wake if worker else lambda: None,
            changes,
            refresh_seconds=own.watch_refresh.total_seconds(),
        ),
        catalog=Catalog(db, zoom, _now, settings.zoom.deadline_seconds, domains),
        idempotency=idempotency,
    )
    registration = RegistrationServicer(use_cases)
    return (
        ServiceDefinition(
            registration_service_pb2.DESCRIPTOR.services_by_name["RegistrationService"].full_name,
            lambda server: registration_service_pb2_grpc.add_RegistrationServiceServicer_to_server(
                registration, server
            ),
        ),
        audit_service_definition(sessions),
        # After SIGTERM has drained the server: stop the job workers before the engine closes.
        *((OnShutdown(worker.stop),) if worker is not None else ()),
        housekeeping,
        changes,
    )


def main() -> None:
    try:
        own = RegistrationSettings.from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"registration: configuration error: {exc}\n")
        raise SystemExit(2) from None
    run_grpc_process(
        "registration",
        lambda settings: settings.registration_port,
        lambda settings: settings.registration_metrics_port,
        functools.partial(_build, own),
    )


if __name__ == "__main__":
    main()
