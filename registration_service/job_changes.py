"""Which registration jobs changed, as announced by any replica: watchers wait for their job's
next change instead of each reading it on a timer.

The transactions that change what a watcher sees (a claim starting the job, a worker's record,
a cancel) NOTIFY the job's id on JOB_CHANNEL; one LISTEN connection per process wakes every
watcher of that job. After the listener lost its connection every watcher is woken, since the
notices sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from common.db.notifications import ChannelListener
from registration_service.repository import JOB_CHANNEL

__all__ = ["JobChanges"]

_log = logging.getLogger(__name__)


class JobChanges:
    def __init__(self, listen_url: str) -> None:
        self._changed: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._listener = ChannelListener(listen_url, JOB_CHANNEL, self._notice, self._wake_everyone)

    @asynccontextmanager
    async def following(self, job_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set at each change of the job from now on; the caller clears it. Entered
        before the caller reads the job, so a change right after that read is not missed."""
        changed = asyncio.Event()
        self._changed[job_id].add(changed)
        try:
            await self._listener.start()
            yield changed
        finally:
            self._changed[job_id].discard(changed)
            if not self._changed[job_id]:
                del self._changed[job_id]

    async def aclose(self) -> None:
        await self._listener.aclose()

    def _notice(self, payload: str) -> None:
        try:
            job_id = uuid.UUID(payload)
        except ValueError:
            _log.warning("registration.bad_job_notice", extra={"event": "registration.bad_job_notice"})
            return
        for changed in self._changed.get(job_id, ()):
            changed.set()

    def _wake_everyone(self) -> None:
        for watchers in self._changed.values():
            for changed in watchers:
                changed.set()
