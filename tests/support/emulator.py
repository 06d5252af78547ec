"""The real Zoom emulator process for tests: random credentials, a free port, an admin client."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.support.database import PROJECT_ROOT

__all__ = ["EmulatorProcess", "running_emulator"]


@dataclass
class EmulatorProcess:
    process: subprocess.Popen[str]
    root: str
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False, default="")
    _admin: httpx.Client | None = field(default=None, repr=False)

    @property
    def api_base(self) -> str:
        return f"{self.root}/v2"

    def admin(self) -> httpx.Client:
        """One shared client for the admin API, closed when the emulator stops."""
        if self._admin is None:
            self._admin = httpx.Client(base_url=self.root, timeout=10)
        return self._admin

    def token(self) -> str:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        response = httpx.post(
            f"{self.root}/oauth/token",
            data={"grant_type": "account_credentials", "account_id": self.account_id},
            headers={"Authorization": f"Basic {basic}"},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def zoom_env(self) -> dict[str, str]:
        """What a service process needs to use this emulator as Zoom."""
        return {
            "ZOOM_API_BASE_URL": self.api_base,
            "ZOOM_OAUTH_URL": self.root,
            "ZOOM_ACCOUNT_ID": self.account_id,
            "ZOOM_CLIENT_ID": self.client_id,
            "ZOOM_CLIENT_SECRET": self.client_secret,
            "ZOOM_WEBHOOK_SECRET_TOKEN": self.webhook_secret,
        }


@contextmanager
def running_emulator(*args: str, webhook_url: str | None = None) -> Iterator[EmulatorProcess]:
    """Starts `python -m zoom_emulator` on a free port; extra `args` are its flags."""
    account, client, secret = f"acct-{secrets.token_hex(4)}", secrets.token_urlsafe(8), secrets.token_urlsafe(16)
    webhook_secret = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "zoom_emulator", "--port", "0", "--account-id", account, *args]
    # Credentials go through the environment: a random one may start with "-", which argv would
    # read as a flag (and argv is visible to every user of the machine).
    env = dict(os.environ, ZOOM_EMULATOR_CLIENT_ID=client, ZOOM_EMULATOR_CLIENT_SECRET=secret)
    if webhook_url:
        command += ["--webhook-url", webhook_url]
        env["ZOOM_EMULATOR_WEBHOOK_SECRET"] = webhook_secret
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("zoom-emulator listening on "):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        emulator = EmulatorProcess(process, line.split()[-1], account, client, secret, webhook_secret)
        try:
            yield emulator
        finally:
            if emulator._admin is not None:
                emulator._admin.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
