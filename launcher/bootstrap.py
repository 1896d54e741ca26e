"""The Ray-side steps of `make run`: actors, the Serve app, the watchlist, the sector cycle.

Every actor is a named, detached get-or-create, so a second driver attaches instead of opening a
second KIS socket. `created` lists the names this run created (not found before), which are the
only ones it removes on an external cluster; on its own head, stopping the head removes them.
"""
from __future__ import annotations

import asyncio
import logging
import threading

import ray

from backbone.settings import NAMESPACE, Settings
from backbone.subscriptions import PRIORITY_WATCHLIST

from .watchlist import subscriptions

log = logging.getLogger("launcher")
SCHEDULER_NAME = "aggregate-scheduler"
APP_NAME = "api"
WATCHLIST_REQUESTER = "watchlist"


def _exists(name: str) -> bool:
    try:
        ray.get_actor(name, namespace=NAMESPACE)
        return True
    except ValueError:
        return False


def socket_actor_name(settings: Settings) -> str:
    from actors.kis_socket import socket_actor_name as name
    return name(settings)


def start_actors(settings: Settings, dsn: str) -> tuple[object, list[str]]:
    """(socket actor handle, names created by this call). Blocks until each answers."""
    from actors.aggregate_scheduler import AggregateScheduler
    from actors.alert_sender import get_or_create_alert_sender
    from actors.candle_writer import ACTOR_NAME as WRITER_NAME
    from actors.candle_writer import get_or_create as get_or_create_writer
    from actors.kis_socket import get_or_create_socket_actor
    from actors.repairer import ACTOR_NAME as REPAIRER_NAME
    from actors.repairer import get_or_create as get_or_create_repairer
    from actors.router import ALERT_SENDER_NAME
    from upstream.options import SocketOptions

    sock_name = socket_actor_name(settings)
    names = [WRITER_NAME, SCHEDULER_NAME, ALERT_SENDER_NAME, sock_name, REPAIRER_NAME]
    before = {n for n in names if _exists(n)}
    # sinks first: the socket's routers look the writer and the alert sender up by name
    writer = get_or_create_writer(dsn, data_dir=settings.data_dir)
    scheduler = AggregateScheduler.options(name=SCHEDULER_NAME, namespace=NAMESPACE, lifetime="detached",
                                           get_if_exists=True).remote(dsn)
    alerts = get_or_create_alert_sender(dsn, settings.alert_webhook_urls, sock_name)
    socket = get_or_create_socket_actor(settings, SocketOptions.from_settings(settings, database_dsn=dsn))
    repairer = get_or_create_repairer(dsn, sock_name)  # tick-loss gaps -> minute-chart REST rewrite
    ray.get([writer.stats.remote(), scheduler.stats.remote(), socket.ping.remote(), repairer.stats.remote()],
            timeout=120)
    del alerts
    return socket, [n for n in names if n not in before]


def serve_running() -> bool:
    try:
        ray.get_actor("SERVE_CONTROLLER_ACTOR", namespace="serve")
        return True
    except ValueError:
        return False


def deploy_serve(settings: Settings, dsn: str, watchlist: list[str], api_key: str | None) -> None:
    """The API + /ws gateway; dsn and key go in as bound arguments (not the cluster's env), so
    they also reach replicas on a cluster started elsewhere."""
    from ray import serve

    from serve_app.deployment import build_app

    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # our progress line says it
    serve.start(http_options={"host": "127.0.0.1", "port": settings.serve_port})
    args = {"dsn": dsn, "warm_symbols": ",".join(watchlist)}
    if api_key:
        args["api_key"] = api_key
    serve.run(build_app(args), name=APP_NAME, route_prefix="/", blocking=False)


def subscribe_watchlist(socket, symbols: list[str]) -> dict[str, str]:
    states = ray.get(socket.acquire.remote(WATCHLIST_REQUESTER, subscriptions(symbols), PRIORITY_WATCHLIST),
                     timeout=60)
    backfill_today(symbols)
    return states


def backfill_today(symbols: list[str]) -> None:
    """Start-up backfill of today's missing minutes, in the repairer (not awaited: start-up goes on)."""
    from actors.repairer import ACTOR_NAME
    try:
        ray.get_actor(ACTOR_NAME, namespace=NAMESPACE).backfill.remote(list(symbols))
    except ValueError:
        log.warning("no candle repairer: start-up backfill skipped")


class SectorLoop:
    """jobs.sectors' 10 s cycle in a thread of the launcher (it dies with the run)."""

    def __init__(self, dsn: str, period_s: float = 10.0) -> None:
        self.dsn, self.period_s = dsn, period_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._run, name="sector-cycle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from jobs.sectors import RouterLatestPrices, SectorCycle, load_groups

        cycle = SectorCycle(load_groups([]), RouterLatestPrices(NAMESPACE), dsn=self.dsn,
                             use_ray=False)  # ~50 symbols: in-process beats 10 Ray tasks (bench/sectors.py)
        self._loop = asyncio.new_event_loop()

        async def go():
            self._task = asyncio.current_task()
            try:
                await cycle.run_forever(self.period_s)
            finally:
                await cycle.close()
        try:
            self._loop.run_until_complete(go())
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - the backend stays up without sectors
            log.exception("sector cycle stopped")
        finally:
            self._loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout_s)


def remove_actors(names: list[str]) -> None:
    """Kill the named detached actors (and the routers our socket actor created)."""
    for name in names:
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def router_names() -> list[str]:
    from actors.router import ROUTER_PREFIX
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a.get("namespace") == NAMESPACE and a["name"].startswith(ROUTER_PREFIX)]


def remove_own(state) -> None:
    """On a cluster this run did not start: delete our Serve app and the actors we created."""
    from ray import serve

    if state.serve_started:
        serve.shutdown()  # Serve itself was started by this run: remove it whole
    elif state.serve_deployed:
        serve.delete(APP_NAME)
    names = list(state.actors)
    if any(n.startswith("kis_socket:") for n in names):
        names += router_names()  # the routers exist for our socket actor
    remove_actors(names)


def flush_candles(timeout_s: float = 15.0) -> bool:
    """Before the head goes: the candle writer writes what it holds (or spills it to disk)."""
    from actors.candle_writer import ACTOR_NAME
    try:
        writer = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    except ValueError:
        return False
    ray.get(writer.close.remote(timeout_s - 2), timeout=timeout_s)
    return True
