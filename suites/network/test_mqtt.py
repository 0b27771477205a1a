"""MQTT quality of service (claims.md, mqtt-qos) on Debian's mosquitto with paho-mqtt clients.

Run: ``pytest --sdconform suites/network``. Publishers in the harness send numbered messages
at one QoS; one subscriber process with a persistent session (``clean_session=False``)
writes each message it gets to a file. A crash is a SIGKILL: of the subscriber (restarted
with the same client id, so the broker sends what it queued) or of the broker (restarted on
its persistence file). QoS is per hop (publisher to broker, broker to subscriber); what the
cases judge is end to end, publisher's acknowledgement to subscriber's file.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_sdconform.backends import mqtt
from pytest_sdconform.case import Case
from pytest_sdconform.faults import Fault
from pytest_sdconform.faults.composite import BeforeHeal
from pytest_sdconform.faults.partition import isolate
from pytest_sdconform.runner import RunConfig
from pytest_sdconform.workloads.log import Log

pytestmark = pytest.mark.backend("mqtt")

WORK_MS = 2.0  # the subscriber application's time on each message, in the QoS 2 crash case
# Crashes short and often, publishes fast: each kill is a chance to catch messages in flight.
# op_timeout: above the drain's own limit (MqttClient.drain_limit, 20 s).
RUN = RunConfig(quiet=0.7, fault_duration=1.0, op_delay=0.002, settle=1.0, op_timeout=25.0)
GUARANTEE = {0: "at-most-once", 1: "at-least-once", 2: "exactly-once"}
FAULTS = {"partition": "subscriber cut from the broker", "subscriber": "subscriber killed",
          "broker": "subscriber killed, then the broker killed before the subscriber's restart"}


def run_case(sdconform: Case, qos: int, fault: str, work_ms: float = 0.0) -> None:
    cluster = sdconform.start(mqtt.Topology(qos=qos, work_ms=work_ms))
    received = mqtt.Received(cluster.info.received)
    run = RUN
    if fault == "partition":
        faults: list[Fault] = [sdconform.fault(lambda: cluster.partition(
            cuts=[isolate(["b1", "sub"], "sub")]))]
        # The subscriber's keepalive (1 s) ends a silent link in about two.
        run = replace(RUN, quiet=1.0, fault_duration=3.0)
    elif fault == "broker":
        faults = [BeforeHeal(cluster.kill(["sub"]), cluster.kill(["b1"]),
                             name="subscriber-down-broker-killed",
                             describe="the broker killed at the end of the subscriber's absence")]
    else:
        faults = [cluster.kill(["sub"])]
    sdconform.run(Log(poll_ratio=0.2, guarantees=(GUARANTEE[qos],)),
                  lambda i: mqtt.MqttClient(cluster.info, received), faults,
                  exercise=mqtt.reconnected(faults[0].name), run=run,
                  config={"fault": FAULTS[fault], "judged": GUARANTEE[qos]})


@pytest.mark.claim("mqtt-qos")
def test_qos2_delivers_each_message_exactly_once_across_a_lost_connection(sdconform: Case
                                                                          ) -> None:
    """QoS 2, the subscriber cut from the broker until its link ends, then back on the same
    session in the same process: every message the broker acknowledged (PUBCOMP) to its
    publisher reaches the subscriber's file once."""
    run_case(sdconform, 2, "partition")


@pytest.mark.claim("mqtt-qos", config="qos2-subscriber-crash")
def test_qos2_loses_the_messages_a_killed_subscriber_had_received_but_not_released(
        sdconform: Case) -> None:
    """QoS 2, the subscriber killed and restarted on its persistent session. paho answers a
    PUBLISH with PUBREC and keeps the message in memory until the PUBREL, and only then hands
    it to the application: a message between the two when the process dies is gone, and the
    broker, which has its PUBREC, only sends the PUBREL again. The application spends
    WORK_MS on each message (on paho's network thread), so the subscriber runs behind the
    publishers and messages wait between PUBREC and PUBREL whenever the kill comes."""
    run_case(sdconform, 2, "subscriber", work_ms=WORK_MS)


@pytest.mark.claim("mqtt-qos", config="qos1-subscriber-crash")
def test_qos1_delivers_every_message_at_least_once_across_a_subscriber_crash(sdconform: Case
                                                                             ) -> None:
    """QoS 1: nothing acknowledged is lost; a message written but not yet acknowledged when
    the subscriber died comes again (a duplicate, allowed)."""
    run_case(sdconform, 1, "subscriber")


@pytest.mark.claim("mqtt-qos", config="qos0-subscriber-crash")
def test_qos0_never_duplicates_and_may_lose_across_a_subscriber_crash(sdconform: Case) -> None:
    """QoS 0, fire and forget: what is published while the subscriber is down is not queued
    for it (lost, allowed), and nothing arrives twice."""
    run_case(sdconform, 0, "subscriber")


@pytest.mark.claim("mqtt-qos", config="qos1-broker-crash")
def test_qos1_messages_queued_in_a_killed_broker_are_lost(sdconform: Case) -> None:
    """QoS 1: while the subscriber is down the broker queues what the publishers send (and
    acknowledges it), then the broker is killed. mosquitto writes its persistence file every
    autosave_interval (1800 s by default) and at a clean shutdown, never per message, so the
    queue dies with it."""
    run_case(sdconform, 1, "broker")
