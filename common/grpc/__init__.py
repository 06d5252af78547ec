"""gRPC plumbing shared by every process: servers, channels, interceptors, error mapping."""

from common.grpc.channels import create_channel
from common.grpc.errors import status_for
from common.grpc.server import RunningServer, ServiceDefinition, serve_until_signal, start_server

__all__ = [
    "RunningServer",
    "ServiceDefinition",
    "create_channel",
    "serve_until_signal",
    "start_server",
    "status_for",
]
