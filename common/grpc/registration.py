"""Registering generated handlers with some methods' response serializers replaced.

grpc's generated `add_XServicer_to_server` fixes every method's serializer to the message's
`SerializeToString`. A servicer that hands out the same message again and again (a cached answer)
can keep its bytes and give grpc those instead of serializing it anew on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

__all__ = ["add_with_serializers"]

Serializer = Callable[[Any], bytes]
_Servicer = TypeVar("_Servicer")


def add_with_serializers(
    add_to_server: Callable[[_Servicer, Any], None],
    servicer: _Servicer,
    server: grpc.aio.Server,
    serializers: Mapping[str, Serializer],
) -> None:
    """`add_to_server(servicer, server)` (generated), with the named methods' serializers replaced."""
    add_to_server(servicer, _ReplacingSerializers(server, serializers))


class _ReplacingSerializers:
    """Stands in for the server while generated code registers a service: the handlers of the
    methods named in `serializers` get those serializers, then all go to the real server."""

    def __init__(self, server: grpc.aio.Server, serializers: Mapping[str, Serializer]) -> None:
        self._server = server
        self._serializers = serializers

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: add_registered_method_handlers, which generated code calls too, has them all."""

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        unknown = set(self._serializers) - set(handlers)
        if unknown:
            raise ValueError(f"{service} has no method {sorted(unknown)}")
        replaced = {
            name: handler._replace(response_serializer=self._serializers[name])
            if name in self._serializers
            else handler
            for name, handler in handlers.items()
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, replaced),))
        self._server.add_registered_method_handlers(service, replaced)
