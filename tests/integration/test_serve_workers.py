"""`bigscreen serve` with several workers spreads its connections over them (bigscreen.process.balanced_accept)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tests_support import processes_below

from bigscreen.process.balanced_accept import pending

PAIRS = 20


def _holder(port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server's end of the connection from the client's `port` (its peer)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


def _until_released(ports: list[int], pids: list[int]) -> None:
    """Until no worker holds these connections (a worker learns of a close when it reads the end)."""
    deadline = time.monotonic() + 10
    while any(_holder(port, pids) is not None for port in ports) and time.monotonic() < deadline:
        time.sleep(0.01)


def _ask(s: socket.socket) -> None:
    """One request on this keep-alive connection, answered (so a worker has taken it)."""
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bigscreen\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        assert chunk, "the server closed the connection"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_two_connections_opened_together_are_served_by_two_workers(city_dir, serve):
    """Two keep-alive connections opened at once (a gateway relaying reports, nginx's upstream keepalive,
    a batch importer) to workers holding none used to land on the same worker nine times in ten: one core
    worked, the other waited."""
    served = serve(city_dir, workers=2)
    workers = list(processes_below(served.proc.pid))
    split = 0
    for _ in range(PAIRS):
        a, b = (socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(2))
        ports = [a.getsockname()[1], b.getsockname()[1]]
        try:
            _ask(a)
            _ask(b)
            holders = [_holder(port, workers) for port in ports]
            assert None not in holders, (holders, workers)
            split += holders[0] != holders[1]
        finally:
            a.close()
            b.close()
        _until_released(ports, workers)  # the next pair finds the workers holding none again
    assert split >= PAIRS * 0.7, f"only {split} of {PAIRS} pairs went to two workers"
    code = served.stop()  # the workers stop accepting and exit cleanly
    said = served.log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in said, said[-3000:]


def test_the_accept_queue_is_read_from_the_listening_socket():
    """A worker skips its wait when more connections are pending than it could balance (a restart's walls
    reconnecting at once): it reads how many from the kernel."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        assert pending(listener) == 0
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            assert pending(listener) == 3
            conn, _ = listener.accept()
            conn.close()
            assert pending(listener) == 2
        finally:
            for c in clients:
                c.close()


def test_a_worker_that_died_does_not_hold_the_others_back(tmp_path):
    """Workers read each other's counts from slots they lock; a dead worker's slot (its lock freed by the
    kernel) is not counted, else its last count would have the live workers leave connections to it."""
    import subprocess
    import sys

    from bigscreen.process.balanced_accept import Holdings

    worker = ("import sys; from pathlib import Path; from bigscreen.process.balanced_accept import Holdings; "
              "h = Holdings(Path(sys.argv[1])); print(h.slot, flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", worker, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "0"
        mine = Holdings(tmp_path)
        mine.set(3)
        assert mine.slot == 1 and mine.fewest_elsewhere() == 0, "the other worker, alive, holds none"
    finally:
        other.stdin.close()
        other.wait(10)
    assert mine.fewest_elsewhere() is None, "gone: not counted"
    assert Holdings(tmp_path).slot == 0, "its slot is free for a new worker"
