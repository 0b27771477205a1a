"""An MQTT subscriber process (paho-mqtt), run as a node so that a crash is a real SIGKILL.

``python -m pytest_sdconform.backends.mqtt.subscriber --host H --port P --client-id ID
--topic T --qos Q --out FILE``

A persistent session (MQTT 3.1.1, ``clean_session=False``): after a restart with the same
client id the broker sends what it queued meanwhile. Each message is appended to ``FILE``
(``<payload> <dup flag>``) and flushed inside ``on_message``, which paho calls before it
acknowledges (QoS 1: PUBACK after the callback; QoS 2: the callback at PUBREL, then PUBCOMP).
paho keeps its QoS 2 state in memory only: a restarted process starts without it.
Each connection writes ``#connect <session present>`` to ``FILE``, each granted subscription
``#subscribed``; ``--work-ms``: the application's time on each message, spent before the
write (paho calls ``on_message`` on its network thread, so a busy application reads the
next packets later). A keepalive of one second
makes a link that went silent (a partition) end in about two, and paho reconnects in the
same process, its QoS 2 state kept. Prints ``started`` once running (the node's readiness,
which needs no broker: a subscriber restarts while the broker may be down).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    import paho.mqtt.client as mqtt

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--qos", type=int, choices=(0, 1, 2), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keepalive", type=int, default=1)
    ap.add_argument("--work-ms", type=float, default=0.0)
    args = ap.parse_args()
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115 (the process's lifetime)

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        out.write(f"#connect {int(flags.session_present)}\n")  # for the case's exercise
        out.flush()
        client.subscribe(args.topic, args.qos)

    def on_subscribe(client: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
        out.write("#subscribed\n")
        out.flush()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if args.work_ms:
            time.sleep(args.work_ms / 1000)  # the application's own work on the message
        out.write(f"{msg.payload.decode()} {int(msg.dup)}\n")
        out.flush()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id,
                         clean_session=False, protocol=mqtt.MQTTv311)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.reconnect_delay_set(1, 2)
    client.connect_async(args.host, args.port, keepalive=args.keepalive)
    print("started", flush=True)
    client.loop_forever(retry_first_connection=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
