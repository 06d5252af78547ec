"""Builds the Zoom client a service process uses from its Settings: one place for the wiring."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from common.config import ConfigError, Settings
from common.zoom._pg_budget import PostgresRateBudget
from common.zoom.client import ZoomClient
from common.zoom.config import ZoomClientConfig

__all__ = ["zoom_client_from_settings"]


def zoom_client_from_settings(settings: Settings, engine: AsyncEngine) -> ZoomClient:
    """A client whose rate budget is shared through `engine`'s database with every replica.

    Refuses to build without credentials: `rollcall run` supplies the emulator's when none are set.
    """
    zoom = settings.zoom
    if not (zoom.account_id and zoom.client_id and zoom.client_secret):
        raise ConfigError("ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET are required")
    config = ZoomClientConfig(
        account_id=zoom.account_id,
        client_id=zoom.client_id,
        client_secret=zoom.client_secret,
        api_base_url=zoom.api_base_url,
        oauth_url=zoom.oauth_url,
        plan=zoom.plan,
        reserved_share=zoom.reserved_share,
        request_timeout_seconds=zoom.request_timeout_seconds,
        deadline_seconds=zoom.deadline_seconds,
        registrant_limit_scope=zoom.registrant_limit_scope,
    )
    return ZoomClient(config, PostgresRateBudget(engine))
