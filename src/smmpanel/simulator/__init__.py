"""A simulated upstream SMM panel (API v2), for tests and for operators.

Profiles mimic the five seed panels (``like3s``, ``shopvn``, ``baostar``,
``subpro``, ``68smm``) plus ``standard`` (a full Perfect-Panel-style panel);
see ``profiles`` for what each accepts and lacks. State (catalog, balance,
orders, refills) lives in memory; tests steer it with ``set_order``,
``set_refill``, ``set_balance`` and ``inject`` (faults, see ``faults``) and
read the counters (``add_requests``, ``created_orders``, ``requests``).

Usage::

    from smmpanel.simulator import SimulatorServer, create_simulator

    sim = create_simulator("shopvn", hang_s=2.0)
    with SimulatorServer(sim) as server:      # a real socket on 127.0.0.1
        ...  # call server.url with key sim.key
        sim.inject("add", "timeout_after_create")
        sim.set_order(99999, status="Partial", remains=50)
        assert len(sim.created_orders) == 1

Hostile modes (``hostile``): ``sim.enable("completed_with_remains")``,
``sim.enable("slow", action="add", delay_s=3)``, ``sim.enable("huge_remains",
orders=[99999])``, ``sim.disable(...)``; a lie about one order:
``sim.set_order(99999, remains="1e99999999")``. ``sim.auto_progress(30)``
moves orders along by themselves. A running simulator takes the same
through its control endpoint (``control``: ``POST /control/mode`` ...,
``ControlClient``, ``smmpanel simulate set|mode|show``).

In-process: ``sim.mock_transport()`` (an ``httpx.MockTransport``) or the raw
core ``sim.handle(method, path, query, content_type, body) -> (status, body)``.
For a foreground server: ``serve(sim, host, port)``.
"""

from .control import ControlClient, ControlError
from .faults import ANY_ACTION, Fault
from .hostile import MODE_HELP, Mode, ModeSetting, RawNumber
from .panel import DEFAULT_KEY, Reply, SimulatedDisconnect, Simulator, create_simulator
from .profiles import PROFILES, Profile, SimService
from .server import DEFAULT_PORT, SimulatorServer, serve, serve_async
from .state import CreatedOrder, OrderView, SimRefill

__all__ = [
    "ANY_ACTION",
    "ControlClient",
    "ControlError",
    "CreatedOrder",
    "DEFAULT_KEY",
    "DEFAULT_PORT",
    "Fault",
    "MODE_HELP",
    "Mode",
    "ModeSetting",
    "OrderView",
    "PROFILES",
    "Profile",
    "RawNumber",
    "Reply",
    "SimRefill",
    "SimService",
    "SimulatedDisconnect",
    "Simulator",
    "SimulatorServer",
    "create_simulator",
    "serve",
    "serve_async",
]
