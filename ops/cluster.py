"""`make cluster`: the action server, REPLICAS replicas of `rasa run` and HAProxy in front, supervised.

One process is a single point of failure and tops out at one core. Here replica i listens on
127.0.0.1:(REPLICA_BASE_PORT + i) (5100 + i) with REPLICA_NAME=replica-i, HAProxy spreads requests
over them on PORT (5005) and takes a replica out while its `GET /health` fails. A child that dies
is started again (1 s, doubling up to 30 s while it keeps crashing), as a process manager would.
Replicas share state only through PostgreSQL and Redis, so both are required: on SQLite, without
REDIS_URL or with Redis unreachable it refuses before starting anything. SIGTERM or Ctrl-C stops
the balancer, then the replicas (SIGTERM, a grace period, then SIGKILL), then the action server.

`Cluster` is also what tests (and the load scenario) start: own ports, own env, logs per child in
`workdir` (`make cluster`: CLUSTER_DIR, default var/cluster/, for haproxy.cfg and endpoints.yml;
its children log to the terminal). docs/deployment.md describes the topology and how it maps onto Kubernetes.
The replicas trust HAProxy's X-Forwarded-For (TRUSTED_PROXIES gets 127.0.0.1): rate limits count
per client, not per balancer.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Optional

from bot import config
from bot.config import ROOT, VAR_DIR
from ops import runner

logger = logging.getLogger(__name__)

BASE_PORT = 5100
RESTART_DELAY_SECONDS = 1.0  # the first restart; doubled for each crash in a row
MAX_RESTART_DELAY_SECONDS = 30.0
STABLE_AFTER_SECONDS = 120.0  # a child that ran this long before dying was not crash-looping
STOP_GRACE_SECONDS = 30.0  # Sanic drains for 15 s, the hub's stop(grace) 10 s: then SIGKILL
SUPERVISE_INTERVAL_SECONDS = 0.5


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says why and what to do."""


@dataclass
class Child:
    """One supervised process: its command, its current process and its restart state."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Optional[Path] = None
    process: Optional[subprocess.Popen] = None
    started: float = 0.0
    crashes: int = 0  # deaths in a row, each within STABLE_AFTER_SECONDS of its start
    restart_at: Optional[float] = None
    pids: list[int] = field(default_factory=list)  # every process it has had, for tests and stop()

    def spawn(self) -> None:
        log: Optional[IO[bytes]] = open(self.log_path, "ab") if self.log_path else None
        try:
            # A session of its own: Ctrl-C in the terminal reaches the supervisor only, which stops
            # the children in order (balancer first) instead of all at once.
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
        finally:
            if log is not None:
                log.close()
        self.started, self.restart_at = time.monotonic(), None
        self.pids.append(self.process.pid)
        logger.info("%s started (pid %d)", self.name, self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signum)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass


def requirements_problem(env: Mapping[str, str]) -> Optional[str]:
    """Why replicas cannot share state with this environment, or None when they can."""
    from sqlalchemy.engine import make_url

    url = env.get("DATABASE_URL") or config.database_url()
    backend = make_url(url).get_backend_name()
    if backend != "postgresql":
        return (f"make cluster needs DATABASE_URL on PostgreSQL (replicas share one database); it is "
                f"{backend}: {runner._redacted(url)}. Example: "
                "DATABASE_URL=postgresql://user:password@127.0.0.1:5432/unisono")
    redis_url = (env.get("REDIS_URL") or "").strip()
    if not redis_url:
        return ("make cluster needs REDIS_URL (replicas share locks and live updates); "
                "e.g. REDIS_URL=redis://127.0.0.1:6379/0")
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return f"make cluster needs Redis, and REDIS_URL={_redacted_redis(redis_url)} is unreachable: {exc}"
    return None


def _redacted_redis(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def haproxy_config(port: int, replica_ports: list[int]) -> str:
    """HAProxy in front of the replicas: round robin, /health checks, X-Forwarded-For."""
    servers = "\n".join(f"    server replica-{i} 127.0.0.1:{p} check" for i, p in enumerate(replica_ports))
    return f"""# Generated by ops/cluster.py (make cluster); edits are overwritten at the next start.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option dontlognull
    option dontlog-normal          # log errors and servers going up or down, not every request
    option forwardfor              # X-Forwarded-For: the client's address, not the balancer's
    # A replica that just died: a refused connection is retried on another replica; a GET whose
    # connection was cut before any answer too. Other methods are not replayed (a webhook could
    # run twice): the client sees 502 and retries, as providers do, and the hub drops duplicates.
    option redispatch 1
    retries 2
    retry-on conn-failure empty-response
    timeout connect 3s
    timeout http-request 15s
    timeout queue 30s
    # Server-sent events (web chat): the stream sends a heartbeat every 15 s, so 90 s of silence
    # means a dead peer; a Rasa turn answers well within it. Upgraded connections: 1 h.
    timeout client 90s
    timeout server 90s
    timeout tunnel 1h
    timeout http-keep-alive 10s

frontend unisono
    bind *:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    http-request disable-l7-retry unless METH_GET
    option httpchk GET /health
    http-check expect status 200
    default-server inter 2s fall 2 rise 2
{servers}
"""


def _trusting_the_balancer(env: dict[str, str]) -> dict[str, str]:
    """The replicas believe the X-Forwarded-For of HAProxy (127.0.0.1), besides any proxies set in
    TRUSTED_PROXIES: every request reaches them from the balancer, and the web chat's rate limits
    count per client address, not per balancer."""
    listed = env["TRUSTED_PROXIES"] if "TRUSTED_PROXIES" in env else (config.get("TRUSTED_PROXIES") or "")
    proxies = [item.strip() for item in listed.split(",") if item.strip()]
    if "127.0.0.1" not in proxies and "127.0.0.0/8" not in proxies:
        proxies.append("127.0.0.1")
    return {**env, "TRUSTED_PROXIES": ",".join(proxies)}


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.path.exists(p)), None)
    if path is None:
        raise ClusterError("HAProxy is not installed: `make haproxy` installs Debian's "
                           "(apt-get install haproxy)")
    return path


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_status(url: str, timeout: float = 2.0) -> Optional[int]:
    """The HTTP status of GET `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


class Cluster:
    """The action server, `replicas` replicas and HAProxy on `port`, supervised from a thread."""

    def __init__(self, replicas: int = 2, port: int = 5005, env: Optional[Mapping[str, str]] = None,
                 workdir: Optional[Path] = None, base_port: int = BASE_PORT, action_port: int = 5055,
                 logs_in_workdir: bool = True) -> None:
        """`env` overrides the environment of every child; `logs_in_workdir` False: the terminal."""
        if replicas < 1:
            raise ClusterError(f"REPLICAS must be at least 1, not {replicas}")
        self.replicas, self.port, self.base_port, self.action_port = replicas, port, base_port, action_port
        self.workdir = Path(workdir or config.get("CLUSTER_DIR") or VAR_DIR / "cluster")
        self.env = _trusting_the_balancer({**runner._env(), **(env or {})})
        self.logs_in_workdir = logs_in_workdir
        self.children: list[Child] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: Optional[threading.Thread] = None

    # -- addresses ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The balancer's address: where clients and providers send requests."""
        return f"http://127.0.0.1:{self.port}"

    def replica_port(self, i: int) -> int:
        return self.base_port + i

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.replica_port(i)}"

    def replica(self, i: int) -> Child:
        return next(child for child in self.children if child.name == f"replica-{i}")

    def log_path(self, name: str) -> Path:
        """Where child `name` (replica-0, actions, balancer) writes its log."""
        return self.workdir / f"{name}.log"

    # -- starting ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Raises ClusterError, before anything starts, when the cluster could not run."""
        problem = requirements_problem(self.env)
        if problem:
            raise ClusterError(problem)
        ports = [self.port, self.action_port, *(self.replica_port(i) for i in range(self.replicas))]
        busy = [p for p in ports if port_in_use(p)]
        if busy:
            raise ClusterError(f"port(s) {busy} already in use (is `make run` or another cluster running?)")
        haproxy_binary()

    def _children(self) -> list[Child]:
        endpoints = self._endpoints()
        balancer_config = self.workdir / "haproxy.cfg"
        replica_ports = [self.replica_port(i) for i in range(self.replicas)]
        balancer_config.write_text(haproxy_config(self.port, replica_ports))
        self._validate(balancer_config)
        children = [Child("actions", runner.action_server_command(self.action_port),
                          {**self.env, "REPLICA_NAME": "actions"})]
        for i in range(self.replicas):
            command = runner.rasa_server_command(self.replica_port(i), endpoints=str(endpoints),
                                                 credentials=str(ROOT / "credentials.yml"))
            children.append(Child(f"replica-{i}", command + ["--interface", "127.0.0.1"],
                                  {**self.env, "REPLICA_NAME": f"replica-{i}"}))
        balancer = [haproxy_binary(), "-db", "-f", str(balancer_config)]
        children.append(Child("balancer", balancer, dict(self.env)))
        for child in children:
            child.log_path = self.log_path(child.name) if self.logs_in_workdir else None
        return children

    def _endpoints(self) -> Path:
        """endpoints.yml with this cluster's action server port."""
        path = self.workdir / "endpoints.yml"
        text = (ROOT / "endpoints.yml").read_text()
        path.write_text(text.replace("localhost:5055", f"127.0.0.1:{self.action_port}"))
        return path

    @staticmethod
    def _validate(balancer_config: Path) -> None:
        command = [haproxy_binary(), "-c", "-q", "-f", str(balancer_config)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            why = done.stderr.strip() or done.stdout.strip()
            raise ClusterError(f"HAProxy refuses {balancer_config}: {why}")

    def start(self) -> "Cluster":
        """Checks, migrates the database once, then starts every child and the supervisor."""
        from ops import migrate

        self.check()
        self.workdir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(self.env["DATABASE_URL"])  # once, here: replicas racing to migrate would collide
        self._share_generated_secrets()
        self.children = self._children()
        try:
            for child in self.children:
                child.spawn()
        except BaseException:
            self.stop()
            raise
        self._stopping.clear()
        self._supervisor = threading.Thread(target=self._supervise, name="cluster-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def _share_generated_secrets(self) -> None:
        """Web chat sessions must verify on every replica: a secret left unset is generated (under
        var/secrets/) here, once, before the replicas start, not by two of them at the same moment."""
        from bot import tokens

        for name in ("WEBCHAT_SECRET", "WEBCHAT_IDENTITY_SECRET"):
            if not self.env.get(name):
                tokens.secret(name)

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Returns once every replica answers /health with 200 and the balancer reaches each of them."""
        deadline = time.monotonic() + timeout
        urls = [self.replica_url(i) + "/health" for i in range(self.replicas)]
        while time.monotonic() < deadline:
            if port_in_use(self.action_port) and all(http_status(url) == 200 for url in urls) \
                    and self.balanced_replicas(2 * self.replicas) == set(self.names()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"the cluster was not ready within {timeout} s; logs in {self.workdir}")

    def names(self) -> list[str]:
        return [f"replica-{i}" for i in range(self.replicas)]

    def balanced_replicas(self, requests: int) -> set[str]:
        """The replicas that answered `requests` GET /health through the balancer with 200."""
        import json

        seen = set()
        for _ in range(requests):
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    seen.add(json.loads(answer.read())["replica"])
            except (OSError, ValueError, KeyError):
                pass
        return seen

    # -- supervising ------------------------------------------------------------------------------
    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL_SECONDS):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self.children:
                    self._tend(child, time.monotonic())

    @staticmethod
    def _tend(child: Child, now: float) -> None:
        """Notices a dead child and schedules its restart, or restarts it when its time has come."""
        if child.alive():
            return
        if child.restart_at is None:
            code = child.process.returncode if child.process is not None else None
            child.crashes = child.crashes + 1 if now - child.started < STABLE_AFTER_SECONDS else 1
            delay = min(RESTART_DELAY_SECONDS * 2 ** (child.crashes - 1), MAX_RESTART_DELAY_SECONDS)
            child.restart_at = now + delay
            logger.warning("%s exited with code %s; starting it again in %.0f s%s", child.name, code, delay,
                           f" ({child.crashes} crashes in a row)" if child.crashes > 1 else "")
        elif now >= child.restart_at:
            child.spawn()

    # -- stopping ---------------------------------------------------------------------------------
    def kill(self, i: int) -> int:
        """SIGKILLs replica i (no shutdown hook runs); returns the killed pid."""
        child = self.replica(i)
        assert child.process is not None
        pid = child.process.pid
        child.signal(signal.SIGKILL)
        return pid

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """The balancer first (no new requests), then the replicas, then the action server."""
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=5)
        with self._lock:
            order = [[c for c in self.children if c.name == "balancer"],
                     [c for c in self.children if c.name.startswith("replica-")],
                     [c for c in self.children if c.name == "actions"]]
            for group in order:
                self._end(group, grace)
        logger.info("cluster stopped")

    @staticmethod
    def _end(children: list[Child], grace: float) -> None:
        for child in children:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s: SIGKILL", child.name, grace)
                child.signal(signal.SIGKILL)
                child.process.wait(timeout=10)


def main(check_only: bool = False) -> int:
    """`python -m ops cluster`: runs until SIGTERM or Ctrl-C; 2 when the environment cannot run it."""
    cluster = Cluster(
        replicas=int(config.get("REPLICAS") or 2), port=int(config.get("PORT") or 5005),
        env={"REDIS_URL": config.get("REDIS_URL") or ""},
        base_port=int(config.get("REPLICA_BASE_PORT") or BASE_PORT),
        action_port=int(config.get("ACTION_SERVER_PORT") or 5055), logs_in_workdir=False,
    )
    try:
        cluster.check()
    except ClusterError as error:
        logger.error("%s", error)
        return 2
    if check_only:
        return 0
    return _run(cluster)


def _run(cluster: Cluster) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        cluster.start()
        print(f"\nunisono cluster: {cluster.replicas} replicas behind HAProxy on {cluster.url} "
              f"(database: {runner._redacted(cluster.env['DATABASE_URL'])}).\n"
              f"  Replicas:       127.0.0.1:{cluster.base_port}.."
              f"{cluster.replica_port(cluster.replicas - 1)}\n"
              f"  Action server:  127.0.0.1:{cluster.action_port}\n"
              f"  Health:         {cluster.url}/health\n"
              f"Each replica answers once its model is loaded (about a minute). Stop with Ctrl-C.\n",
              flush=True)
        while not stop.wait(0.5):
            pass
    except ClusterError as error:
        logger.error("%s", error)
        return 2
    finally:
        cluster.stop()
    return 0
