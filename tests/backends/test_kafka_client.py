"""The Kafka consumer child's protocol: a late answer is never taken for the next command's,
and a crash is a SIGKILL the parent can prove. (No broker: a stand-in child answers.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_sdconform.backends.kafka.client import ConsumerProcess

# Answers like consumer.py does (the id first, echoed back), but a commit answers late.
CHILD = textwrap.dedent("""
    import json, sys, time
    print(json.dumps({"ready": True}), flush=True)
    for n, line in enumerate(sys.stdin):
        cmd = line.split()
        ident = {"id": int(cmd.pop(0))} if cmd and cmd[0].isdigit() else {}
        if cmd[0] == "commit":
            time.sleep(1.0)  # a commit stuck behind a partition
            reply = {"ok": []}
        else:
            reply = {"ok": [[0, n, n]]}
        print(json.dumps({**reply, **ident}), flush=True)
""")


def child(tmp_path: Path) -> ConsumerProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    c = ConsumerProcess.__new__(ConsumerProcess)
    c.proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    c.ready, c.startup, c.asked, c.stale, c.buffer = False, 10.0, 0, 0, b""
    return c


def test_a_late_answer_is_skipped_not_taken_for_the_next_command(tmp_path: Path) -> None:
    c = child(tmp_path)
    try:
        assert c.ask("poll 0.5", 5) == {"ok": [[0, 0, 0]], "id": 1}
        with pytest.raises(TimeoutError):
            c.ask("commit", 0.2)  # gives up; the answer comes later
        # Without ids this poll got the commit's empty answer, the next poll this one's batch,
        # and a commit after it the batch of the poll before: processed by nobody, committed.
        assert c.ask("poll 0.5", 5) == {"ok": [[0, 2, 2]], "id": 3}
        assert c.stale == 1
        assert c.ask("poll 0.5", 5)["id"] == 4
    finally:
        assert c.crash()  # killed by SIGKILL while alive: the crash is proven


def test_a_crash_of_a_process_already_gone_is_not_proven(tmp_path: Path) -> None:
    c = child(tmp_path)
    c.proc.stdin.close()  # type: ignore[union-attr]
    c.proc.wait(5)  # it exits on its own
    assert not c.crash()


def test_a_producer_that_cannot_learn_its_topic_still_starts() -> None:
    """Warming up is best effort: with no broker to ask, it gives up after its timeout and the
    producer is returned, to send (and fail) as any other."""
    pytest.importorskip("confluent_kafka")
    from pytest_sdconform.backends.kafka.client import Settings

    settings = Settings(bootstrap="127.0.0.1:1", topic="log", timeout=0.5)
    producer = settings.producer_for(0)
    assert producer.seq == 0 and producer.name.startswith("p0.")
    producer.producer.flush(0)
