"""Generated handlers registered with a replaced response serializer keep everything else."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.grpc.registration import add_with_serializers


class _Recorder:
    def __init__(self) -> None:
        self.generic: list[Any] = []
        self.registered: dict[str, dict[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.registered[service] = dict(handlers)


def _held(message: Any) -> bytes:
    return b"held"


def test_only_the_named_methods_serializer_is_replaced() -> None:
    server = _Recorder()
    servicer = health_pb2_grpc.HealthServicer()
    add_with_serializers(health_pb2_grpc.add_HealthServicer_to_server, servicer, server, {"Check": _held})  # type: ignore[arg-type]
    handlers = server.registered["grpc.health.v1.Health"]
    assert handlers["Check"].response_serializer is _held
    assert handlers["Check"].request_deserializer == health_pb2.HealthCheckRequest.FromString
    assert handlers["Watch"].response_serializer == health_pb2.HealthCheckResponse.SerializeToString
    details = _Details("/grpc.health.v1.Health/Check")
    assert server.generic[0].service(details).response_serializer is _held


def test_a_method_the_service_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="NoSuch"):
        add_with_serializers(
            health_pb2_grpc.add_HealthServicer_to_server,
            health_pb2_grpc.HealthServicer(),
            _Recorder(),  # type: ignore[arg-type]
            {"NoSuch": _held},
        )


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()
