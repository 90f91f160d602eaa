"""Outputs of the rules' events, each on its own thread (no Django import).

The tracking loop only puts events in each output's queue (:meth:`OutputHub.hand`), so a
slow or blocked output (a webhook that takes a second, a serial port that stalls) never
stalls tracking or another output. Each output has a declared *safe state* it returns to
when tracking is lost, when the session stops, and when the watchdog finds the loop stuck
(:meth:`OutputHub.safe_state`: what was still queued is dropped first — stale events must
not reach the rig after the safe state).

Kinds:

- ``serial``: a TTL through a serial device (an Arduino/Teensy: see the README's sketch),
  ``pyserial``'s ``serial_for_url`` (``/dev/ttyACM0``, or ``loop://`` in tests); writes the
  rule's payload (default ``1``) per event and ``safe`` (default ``0``) for the safe state;
- ``webhook``: an HTTP POST of the event as JSON (``{"kind": "safe_state"}`` for the safe
  state);
- ``zmq``: a ZeroMQ PUB socket (``pyzmq``), a ``topic`` frame then the event JSON, for
  recording systems that take markers (Open Ephys' ZMQ interface, custom scripts).

Every send is timed: the event log (:class:`SentRecord`) has the capture time, the time
the loop handed the event over and the time the output finished sending it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)
OUTPUT_KINDS = ("serial", "webhook", "zmq")


class OutputError(ValueError):
    """An output definition is unusable, or the output cannot be opened."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class Output(Protocol):
    name: str

    def send(self, event: Mapping[str, Any], payload: str) -> None: ...

    def safe(self, reason: str) -> None: ...

    def close(self) -> None: ...


class SerialOutput:
    def __init__(self, name: str, *, port: str, baud: int = 115200, safe: str = "0"):
        import serial

        self.name = name
        self.safe_payload = safe
        try:
            self.port = serial.serial_for_url(port, baudrate=baud, timeout=0, write_timeout=1)
        except (serial.SerialException, ValueError) as e:
            raise OutputError(f"outputs.{name}.port", f"cannot open {port!r}: {e}") from e

    def send(self, event: Mapping[str, Any], payload: str) -> None:
        self.port.write(payload.encode())
        self.port.flush()

    def safe(self, reason: str) -> None:
        self.port.write(self.safe_payload.encode())
        self.port.flush()

    def close(self) -> None:
        self.port.close()


class LoopbackSerial(SerialOutput):
    """A serial output on ``loop://`` that reads back what it wrote and timestamps it
    (``received``: ``(monotonic_ns, bytes)``): the far end of the TTL in tests and the bench."""

    def __init__(self, name: str, *, safe: str = "0"):
        super().__init__(name, port="loop://", safe=safe)
        self.received: list[tuple[int, bytes]] = []

    def _echo(self) -> None:
        data = self.port.read(4096)
        if data:
            self.received.append((time.monotonic_ns(), data))

    def send(self, event: Mapping[str, Any], payload: str) -> None:
        super().send(event, payload)
        self._echo()

    def safe(self, reason: str) -> None:
        super().safe(reason)
        self._echo()

    def bytes_received(self) -> bytes:
        return b"".join(data for _, data in self.received)


class WebhookOutput:
    def __init__(self, name: str, *, url: str, timeout_s: float = 2.0):
        if not url.startswith(("http://", "https://")):
            raise OutputError(f"outputs.{name}.url", "must be an http:// or https:// URL")
        self.name, self.url, self.timeout = name, url, timeout_s

    def _post(self, body: Mapping[str, Any]) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            response.read()

    def send(self, event: Mapping[str, Any], payload: str) -> None:
        self._post(event)

    def safe(self, reason: str) -> None:
        self._post({"kind": "safe_state", "reason": reason})

    def close(self) -> None:
        pass


class ZmqOutput:
    def __init__(self, name: str, *, endpoint: str, topic: str = "mousetrack"):
        import zmq

        self.name, self.topic = name, topic.encode()
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 500)
        try:
            self.socket.bind(endpoint)
        except zmq.ZMQError as e:
            self.socket.close()
            raise OutputError(f"outputs.{name}.endpoint", f"cannot bind {endpoint!r}: {e}") from e

    def send(self, event: Mapping[str, Any], payload: str) -> None:
        self.socket.send_multipart([self.topic, json.dumps(event).encode()])

    def safe(self, reason: str) -> None:
        self.send({"kind": "safe_state", "reason": reason}, "")

    def close(self) -> None:
        self.socket.close()


def build_outputs(data: Any) -> list[Output]:
    """Outputs from JSON ``[{"name", "kind", ...}]``; :class:`OutputError` naming the field.
    Opens them (a serial port that is not there is an error now, not mid-session)."""
    if not isinstance(data, list):
        raise OutputError("outputs", "must be a list")
    outputs: list[Output] = []
    try:
        for i, item in enumerate(data):
            where = f"outputs[{i}]"
            if not isinstance(item, Mapping):
                raise OutputError(where, "must be an object")
            name, kind = str(item.get("name") or f"output {i + 1}"), item.get("kind")
            if any(o.name == name for o in outputs):
                raise OutputError(f"{where}.name", f"duplicate output name {name!r}")
            options = {k: v for k, v in item.items() if k not in ("name", "kind")}
            allowed = {
                "serial": {"port", "baud", "safe"},
                "webhook": {"url", "timeout_s"},
                "zmq": {"endpoint", "topic"},
            }.get(kind)
            if allowed is None:
                raise OutputError(f"{where}.kind", f"must be one of {', '.join(OUTPUT_KINDS)}")
            if set(options) - allowed:
                raise OutputError(where, f"unknown keys {sorted(set(options) - allowed)}")
            if kind == "serial":
                outputs.append(SerialOutput(name, **options))
            elif kind == "webhook":
                outputs.append(WebhookOutput(name, **options))
            else:
                outputs.append(ZmqOutput(name, **options))
    except TypeError as e:
        for output in outputs:
            output.close()
        raise OutputError("outputs", str(e)) from e
    except OutputError:
        for output in outputs:
            output.close()
        raise
    return outputs


@dataclass(frozen=True)
class SentRecord:
    """One event as it went out (or failed to): the event log's line (``output`` None: the
    session's own event, logged only)."""

    output: str | None
    event: dict[str, Any]
    capture_ns: int
    handed_ns: int
    sent_ns: int
    error: str | None = None

    def to_dict(self, origin_ns: int) -> dict[str, Any]:
        return {
            **self.event,
            "output": self.output,
            "capture_s": round((self.capture_ns - origin_ns) / 1e9, 6),
            "handed_s": round((self.handed_ns - origin_ns) / 1e9, 6),
            "output_s": round((self.sent_ns - origin_ns) / 1e9, 6),
            "latency_ms": round((self.handed_ns - self.capture_ns) / 1e6, 3),
            "send_ms": round((self.sent_ns - self.handed_ns) / 1e6, 3),
            "error": self.error,
        }


_SAFE = "safe"
_STOP = "stop"
_SAFE_EVENT = {
    "kind": "safe_state",
    "rule": None,
    "zone": None,
    "animal": None,
    "frame": None,
    "time_s": None,
    "value": None,
}


class _Worker:
    def __init__(self, output: Output, on_sent: Callable[[SentRecord], None], maxsize: int):
        self.output = output
        self.on_sent = on_sent
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=f"output-{output.name}", daemon=True)
        self.thread.start()

    def put(self, item: tuple) -> None:
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1  # the output cannot keep up: drop rather than stall tracking

    def clear(self) -> None:
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            kind = item[0]
            if kind == _STOP:
                return
            error = None
            try:
                if kind == _SAFE:
                    self.output.safe(item[1])
                else:
                    self.output.send(item[1], item[2])
            except Exception as e:  # noqa: BLE001 - an output failing must not end the session
                error = str(e) or type(e).__name__
                log.warning("output %s failed: %s", self.output.name, error)
            if kind == _SAFE:
                # The same keys as a rule's event (the log's lines all have them).
                event = dict(_SAFE_EVENT, reason=item[1])
                record = SentRecord(
                    self.output.name, event, item[2], item[3], time.monotonic_ns(), error
                )
            else:
                record = SentRecord(
                    self.output.name, dict(item[1]), item[3], item[4], time.monotonic_ns(), error
                )
            self.on_sent(record)


class OutputHub:
    """The outputs' threads; the loop calls :meth:`hand` and :meth:`safe_state`."""

    def __init__(
        self,
        outputs: Sequence[Output],
        *,
        on_sent: Callable[[SentRecord], None] | None = None,
        maxsize: int = 256,
    ):
        self.outputs = list(outputs)
        self._lock = threading.Lock()
        self.records: list[SentRecord] = []
        self._on_sent = on_sent
        self.workers = [_Worker(o, self._sent, maxsize) for o in self.outputs]
        self.in_safe_state = False

    def _sent(self, record: SentRecord) -> None:
        with self._lock:
            self.records.append(record)
        if self._on_sent is not None:
            self._on_sent(record)

    def hand(self, events: Sequence[Any], *, capture_ns: int) -> int:
        """Queue ``events`` (:class:`~tracking.live.rules.Event`) on their outputs; returns the
        hand-over time (``monotonic_ns``) the latency is measured to."""
        handed = time.monotonic_ns()
        for event in events:
            body = event.to_dict()
            for worker in self.workers:
                if not event.outputs or worker.output.name in event.outputs:
                    worker.put(("event", body, event.payload, capture_ns, handed))
        if events:
            self.in_safe_state = False
        return handed

    def safe_state(self, reason: str, *, drop_pending: bool = True) -> None:
        """Drop what is queued (``drop_pending``) and put every output in its safe state (once
        until the next event: repeating it every frame of a long stall would flood the rig)."""
        if self.in_safe_state:
            return
        self.in_safe_state = True
        now = time.monotonic_ns()
        for worker in self.workers:
            if drop_pending:
                worker.clear()
            worker.put((_SAFE, reason, now, now))

    @property
    def dropped(self) -> int:
        return sum(w.dropped for w in self.workers)

    def close(self, *, timeout_s: float = 3.0) -> None:
        """Send what is queued, then the safe state, then stop the threads; an output
        blocked longer than ``timeout_s`` is left behind (its thread is a daemon) so that
        stopping always works."""
        self.in_safe_state = False
        self.safe_state("session ended", drop_pending=False)
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            worker.put((_STOP,))
        for worker in self.workers:
            worker.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if not worker.thread.is_alive():
                try:
                    worker.output.close()
                except Exception:  # noqa: BLE001
                    log.exception("closing output %s", worker.output.name)
