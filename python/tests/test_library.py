"""Finding libnfq_rs.so, and the example scripts on real traffic."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import time

import pytest
from conftest import PKG_ROOT, recv_or_none

import nfq_rs
from nfq_rs import _lib

PORT = 9999


def test_env_var_names_the_missing_file():
    with pytest.raises(nfq_rs.LibraryNotFoundError) as ei:
        _lib.load(environ={"NFQ_RS_LIBRARY": "/nonexistent/libnfq_rs.so"})
    msg = str(ei.value)
    assert "NFQ_RS_LIBRARY=/nonexistent/libnfq_rs.so" in msg and "no such file" in msg
    assert "cargo build --release" in msg


def test_error_names_every_place_looked(tmp_path, monkeypatch):
    pkg = tmp_path / "python" / "nfq_rs"
    pkg.mkdir(parents=True)
    (pkg.parent / "pyproject.toml").write_text("")  # looks like a source checkout

    def no_dll(name, *a, **kw):
        raise OSError(f"{name}: cannot open shared object file")

    # Whatever is installed on this machine, pretend the dynamic loader finds nothing.
    monkeypatch.setattr(_lib.ctypes, "CDLL", no_dll)
    with pytest.raises(nfq_rs.LibraryNotFoundError) as ei:
        _lib.load(environ={}, pkg_dir=pkg, find_library=lambda name: None)
    e = ei.value
    places = [p for p, _ in e.tried]
    assert any(str(pkg / "libnfq_rs.so") in p for p in places)
    assert any(str(tmp_path / "target" / "release" / "libnfq_rs.so") in p for p in places)
    assert any("find_library('nfq_rs')" in p for p in places)
    assert any("libnfq_rs.so.0" in p for p in places)
    for p in places:
        assert p in str(e)


def test_a_library_that_is_not_ours_is_rejected():
    libc = ctypes.util.find_library("c")
    with pytest.raises(nfq_rs.LibraryNotFoundError, match="not libnfq_rs"):
        _lib.load(environ={"NFQ_RS_LIBRARY": libc})


def test_import_works_without_the_library_and_the_error_comes_on_use(tmp_path):
    code = (
        "import nfq_rs\n"
        "try:\n"
        "    nfq_rs.Queue(0)\n"
        "except nfq_rs.LibraryNotFoundError as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), NFQ_RS_LIBRARY="/nonexistent/libnfq_rs.so")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "cannot load libnfq_rs.so" in p.stdout and "/nonexistent/libnfq_rs.so" in p.stdout


def test_found_in_the_source_checkout_without_env_var():
    built = PKG_ROOT.parent / "target" / "release" / "libnfq_rs.so"
    code = (
        "import nfq_rs\n"
        "try:\n"
        "    print(nfq_rs.library_path())\n"
        "except nfq_rs.LibraryNotFoundError as e:\n"
        "    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NFQ_RS_LIBRARY"}
    env["PYTHONPATH"] = str(PKG_ROOT)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    if built.exists():
        assert p.stdout.strip() == str(built)
    else:  # e.g. CARGO_TARGET_DIR elsewhere: the checkout path is at least named
        assert f"source checkout build: {built}" in p.stdout


def _run_example(ns, args, payloads, expect):
    rx, tx = ns.udp_pair(PORT)
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    p = subprocess.Popen(
        [sys.executable, *args, "--netns", ns.path, "--count", str(len(payloads))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Wait until the queue is bound (packets are dropped before that).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            k = ns.exec("cat", "/proc/net/netfilter/nfnetlink_queue").stdout
            if k.strip() or p.poll() is not None:
                break
            time.sleep(0.05)
        for m in payloads:
            tx.sendto(m, ("127.0.0.1", PORT))
        got = [recv_or_none(rx, 3) for _ in payloads]
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert got == expect
    return out


def test_example_print_packets(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 0")
    out = _run_example(ns, [str(PKG_ROOT / "examples" / "print_packets.py")], [b"a", b"b"], [b"a", b"b"])
    assert out.count("hook=OUTPUT") == 2 and "stats:" in out


def test_example_rewrite_payload(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 0")
    out = _run_example(
        ns,
        [str(PKG_ROOT / "examples" / "rewrite_payload.py"), "--from", "hello", "--to", "HOWDY, WORLD"],
        [b"hello there", b"nothing"],
        [b"HOWDY, WORLD there", b"nothing"],
    )
    assert "rewrote 39 -> 46 bytes" in out
