"""A real, throwaway PostgreSQL server for tests (Debian's postgresql-15 binaries).

PostgreSQL refuses to run as root, so when the tests run as root the data folder is handed to the
``postgres`` user and every server binary runs through ``runuser -u postgres --``. The server
listens on 127.0.0.1 on a free port, with a unix socket in its own folder, trust authentication,
fsync off (it is thrown away), and is stopped with ``pg_ctl stop -m fast``.

Example (what the ``postgres_url`` fixture does):
    server = PostgresServer.start(tmp_dir)
    url = server.create_database("firstmate_test")   # postgresql://postgres@127.0.0.1:PORT/firstmate_test
    ...
    server.stop()
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SEARCH_DIRS = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (15, 16, 17, 14, 13)]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why (used as the skip reason)."""


def find_bin_dir() -> Path:
    """The folder with initdb/pg_ctl, preferring PostgreSQL 15."""
    for folder in SEARCH_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("pg_ctl")
    if found and (Path(found).parent / "initdb").exists():
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install the Debian package 'postgresql' (.ci/run does this)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; ``url(db)`` gives a psycopg URL."""

    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    run_as: str | None

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    @classmethod
    def start(cls, base: Path) -> PostgresServer:
        """initdb + pg_ctl start in ``base``; raises PostgresUnavailable with the reason.

        ``base`` must be reachable by the ``postgres`` user (e.g. a ``tempfile.mkdtemp()`` under /tmp).
        """
        bin_dir = find_bin_dir()
        run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server") from exc
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and 'runuser' is missing")
            run_as = "postgres"
        base.mkdir(parents=True, exist_ok=True)
        data_dir, socket_dir = base / "data", base / "sock"
        socket_dir.mkdir(exist_ok=True)
        if run_as:
            entry = pwd.getpwnam(run_as)
            for path in (base, socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        server = cls(bin_dir=bin_dir, data_dir=data_dir, socket_dir=socket_dir, port=_free_port(), run_as=run_as)
        init = subprocess.run(
            server._cmd(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync"),
            capture_output=True, text=True, timeout=120,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-300:]}")
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={socket_dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        started = subprocess.run(
            server._cmd(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(base / "server.log"),
                        "-o", options, "-w", "-t", "60", "start"),
            capture_output=True, text=True, timeout=90,
        )
        if started.returncode != 0:
            log = (base / "server.log").read_text(errors="replace")[-400:] if (base / "server.log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {(started.stderr or started.stdout).strip()[-200:]} {log}")
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True, text=True,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise PostgresUnavailable("the server started but never accepted connections")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` (dropping an old one) and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"),
            capture_output=True, text=True, timeout=60,
        )
