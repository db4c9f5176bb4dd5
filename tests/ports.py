"""A port for a server a test starts as a subprocess.

``bind(("127.0.0.1", 0))`` hands out a port from the kernel's ephemeral range, and the
port is free again the moment the socket closes: in the seconds before the subprocess
binds it, a live server of another test (pytest-xdist, another run on the machine) or any
outgoing connection may take the same port, and the test then talks to a stranger (seen:
a 404 from another test's server). Ports below the ephemeral range are never handed out
by the kernel, so only another caller of this function could race for one, and it picks
at random among thousands.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000  # below Linux's default ip_local_port_range (32768-60999)


def free_port() -> int:
    for _ in range(200):
        port = random.randint(LOW, HIGH)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
