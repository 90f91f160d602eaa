"""Outputs on their own threads: serial (loop://), webhook, ZeroMQ; safe state; slowness."""

from __future__ import annotations

import json
import time

import pytest
import serial

from tracking.live.outputs import (
    OutputError,
    OutputHub,
    SerialOutput,
    WebhookOutput,
    ZmqOutput,
    build_outputs,
)
from tracking.live.rules import Event

from .helpers import Receiver


def _event(frame=3, outputs=(), payload="1"):
    return Event("zone_entry", "in right", 1, frame, 0.1, "right", None, outputs, payload)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_serial_ttl_gets_the_rule_payload_and_the_safe_byte():
    output = SerialOutput("ttl", port="loop://", safe="0")
    hub = OutputHub([output])
    capture = time.monotonic_ns()
    handed = hub.hand([_event(payload="H")], capture_ns=capture)
    _wait(lambda: len(hub.records) == 1)
    assert output.port.read(10) == b"H"
    record = hub.records[0]
    assert record.capture_ns == capture and record.handed_ns == handed
    assert record.sent_ns >= record.handed_ns >= record.capture_ns
    hub.safe_state("no data")
    hub.safe_state("no data")  # once until the next event
    _wait(lambda: len(hub.records) == 2)
    assert output.port.read(10) == b"0"
    line = hub.records[1].to_dict(capture)
    assert line["kind"] == "safe_state" and line["reason"] == "no data"
    hub.close()


def test_a_webhook_receives_events_as_json_and_the_safe_state():
    with Receiver() as receiver:
        hub = OutputHub([WebhookOutput("hook", url=receiver.url)])
        hub.hand([_event()], capture_ns=time.monotonic_ns())
        hub.close()
        assert receiver.kinds() == ["zone_entry", "safe_state"]
        assert receiver.bodies[0][1]["zone"] == "right"


def test_a_zeromq_subscriber_receives_markers():
    import zmq

    output = ZmqOutput("marker", endpoint="tcp://127.0.0.1:*")
    endpoint = output.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.connect(endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"mousetrack")
    sub.setsockopt(zmq.RCVTIMEO, 5000)
    hub = OutputHub([output])
    got = None
    for frame in range(50):  # a PUB drops what it sends before the subscription lands
        hub.hand([_event(frame=frame)], capture_ns=time.monotonic_ns())
        try:
            got = sub.recv_multipart(flags=zmq.NOBLOCK)
            break
        except zmq.Again:
            time.sleep(0.05)
    hub.close()
    sub.close()
    assert got is not None and got[0] == b"mousetrack"
    assert json.loads(got[1])["kind"] == "zone_entry"


def test_a_slow_output_stalls_neither_the_loop_nor_the_other_outputs():
    with Receiver(delay_s=1.5) as receiver:
        fast = SerialOutput("ttl", port="loop://")
        hub = OutputHub([WebhookOutput("slow", url=receiver.url, timeout_s=5), fast])
        for frame in range(5):
            hub.hand([_event(frame=frame)], capture_ns=time.monotonic_ns())
        # hand() only queues; the serial output has all five while the webhook holds one.
        _wait(lambda: sum(r.output == "ttl" for r in hub.records) == 5)
        assert sum(r.output == "slow" for r in hub.records) < 5
        assert fast.port.read(10) == b"11111"
        hub.close(timeout_s=0.5)  # stopping works even while the webhook blocks


def test_an_event_goes_only_to_the_outputs_its_rule_names():
    a, b = SerialOutput("a", port="loop://"), SerialOutput("b", port="loop://")
    hub = OutputHub([a, b])
    hub.hand([_event(outputs=("b",), payload="x")], capture_ns=time.monotonic_ns())
    _wait(lambda: len(hub.records) == 1)
    assert hub.records[0].output == "b" and b.port.read(5) == b"x" and a.port.read(5) == b""
    hub.close()


def test_outputs_that_cannot_open_are_refused_before_the_session():
    with pytest.raises(OutputError, match="cannot open"):
        build_outputs([{"name": "ttl", "kind": "serial", "port": "/dev/ttyNOPE9"}])
    with pytest.raises(OutputError) as err:
        build_outputs([{"kind": "webhook", "url": "ftp://x"}])
    assert err.value.field == "outputs.output 1.url"
    with pytest.raises(OutputError, match="unknown keys"):
        build_outputs([{"kind": "serial", "port": "loop://", "baudrate": 9600}])
    outputs = build_outputs([{"kind": "serial", "port": "loop://"}])
    assert isinstance(outputs[0].port, serial.SerialBase)
    outputs[0].close()
