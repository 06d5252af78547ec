"""Authentication of every RPC but health checks and reflection, from `authorization: Bearer`."""

from __future__ import annotations

from collections.abc import Sequence

from common.errors import Unauthenticated
from common.security.principal import Principal
from common.security.tokens import TokenVerifier

__all__ = ["PUBLIC_METHOD_PREFIXES", "BearerAuthenticator"]

# Health and reflection stay open: load balancers and `buf curl --list-services` carry no token.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/")


class BearerAuthenticator:
    """Turns the call's bearer token into a Principal, or refuses the call with UNAUTHENTICATED."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def __call__(self, method: str, metadata: Sequence[tuple[str, str | bytes]]) -> Principal | None:
        if method.startswith(PUBLIC_METHOD_PREFIXES):
            return None
        values = [value for key, value in metadata if key == "authorization"]
        if len(values) != 1 or not isinstance(values[0], str):
            raise Unauthenticated("send exactly one `authorization: Bearer <token>` header")
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization header must be `Bearer <token>`")
        return await self._verifier.verify(token.strip())
