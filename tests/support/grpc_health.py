"""Synchronous gRPC health checks for fixtures that wait for a process to serve."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["health_status", "is_serving"]


def health_status(target: str, service: str = "") -> str:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
        except grpc.RpcError as exc:
            return f"error:{exc.code().name}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def is_serving(target: str, service: str = "") -> bool:
    return health_status(target, service) == "SERVING"
