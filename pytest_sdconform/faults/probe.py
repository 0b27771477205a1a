"""Reachability probe: which addresses can this process open a TCP connection to?

Run inside a node's cgroup (``python -m pytest_sdconform.faults.probe PORT TIMEOUT ADDR...``),
its connections leave with the node's address, exactly like the node's own traffic. A refused
connection proves packets flow (the RST came back); a timeout means they are dropped.
Prints one JSON object: {address: "open" | "blocked"}.
"""

from __future__ import annotations

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def reachable(address: str, port: int, timeout: float, attempts: int = 2) -> bool:
    """Blocked only when every attempt times out: a listener whose accept queue is full drops
    a SYN too (seen once on a loaded machine), and a fresh attempt sends a new one at once
    rather than waiting a second for the kernel's retransmission."""
    for _ in range(attempts):
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return True
        except ConnectionRefusedError:
            return True
        except OSError:
            continue
    return False


def main(argv: list[str]) -> None:
    port, timeout, addresses = int(argv[0]), float(argv[1]), argv[2:]
    with ThreadPoolExecutor(max(1, len(addresses))) as pool:
        results = list(pool.map(lambda a: reachable(a, port, timeout), addresses))
    print(
        json.dumps(
            {a: "open" if ok else "blocked" for a, ok in zip(addresses, results, strict=True)}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
