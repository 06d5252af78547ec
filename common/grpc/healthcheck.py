"""`python -m common.grpc.healthcheck HOST:PORT [SERVICE]`: exit 0 when the server is SERVING.

For container health checks where the orchestrator has no native gRPC probe (docker compose).
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: python -m common.grpc.healthcheck HOST:PORT [SERVICE]\n")
        return 2
    service = argv[1] if len(argv) == 2 else ""
    with grpc.insecure_channel(argv[0]) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        except grpc.RpcError:
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
