"""The same script (netfilterqueue_scenario.py) against the PyPI netfilterqueue package and
against nfq_rs.compat: what it observes must be the same.

scripts/test-python.sh builds the original into a venv (scripts/netfilterqueue-venv.sh) and
passes its interpreter in NFQ_ORIG_PYTHON; both runs use that interpreter."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import PKG_ROOT

PORT = 9999


def run_scenario(ns, python: str, impl: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    p = subprocess.run(
        ["ip", "netns", "exec", ns.name, python, str(PKG_ROOT / "tests" / "netfilterqueue_scenario.py"), impl],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, f"{impl}: exit {p.returncode}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_shim_matches_netfilterqueue(ns):
    python = os.environ.get("NFQ_ORIG_PYTHON")
    if not python:
        pytest.fail("NFQ_ORIG_PYTHON is not set: run scripts/test-python.sh (it builds the original into a venv)")
    # Only unmarked packets are queued, so that repeat() with a mark ends.
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -m mark ! --mark 7 -j NFQUEUE --queue-num 1")
    ns.iptables("-A INPUT -p udp --dport 9998 -j NFQUEUE --queue-num 1")
    orig = run_scenario(ns, python, "orig")
    shim = run_scenario(ns, python, "shim")
    assert orig.keys() == shim.keys()
    diffs = {k: (orig[k], shim[k]) for k in orig if orig[k] != shim[k]}
    assert not diffs, json.dumps(diffs, indent=1)
    # The scenario saw what it should (so that equal outputs are not equally empty).
    assert orig["received_1"] == ["one"] and orig["late_verdicts"] == ["keep"]
    assert orig["raise"][0] == "ValueError" and orig["raise_order"] == ["boom", "b", "c"]
    assert orig["signal_False"] == ["Alarm", True] and orig["signal_True"] == ["Alarm", True]
    assert orig["bad_sockfd"] == ["OSError", "[Errno 9] dup2 failed"]
    assert orig["input_meta"][0][1:5] == [1, True, True, True] and orig["input_received"] == "in"
    assert orig["run_socket_seen"] == ["s1", "s2"] and orig["run_socket_received"] == ["s1", "s2"]


def test_without_cap_net_admin_both_refuse_in_the_constructor(ns):
    python = os.environ.get("NFQ_ORIG_PYTHON")
    if not python:
        pytest.fail("NFQ_ORIG_PYTHON is not set: run scripts/test-python.sh (it builds the original into a venv)")
    code = (
        "import sys\n"
        "mod = __import__('netfilterqueue' if sys.argv[1] == 'orig' else 'nfq_rs.compat', fromlist=['x'])\n"
        "try:\n"
        "    mod.NetfilterQueue()\n"
        "    print('constructed')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    outs = []
    for impl in ("orig", "shim"):
        p = subprocess.run(
            ["ip", "netns", "exec", ns.name, "setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
             python, "-c", code, impl],
            capture_output=True, text=True, env=env, timeout=30,
        )
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout.strip())
    assert outs[0] == "OSError Failed to bind family 2. Are you root?"
    assert outs[1] == outs[0]
