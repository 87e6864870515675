"""Fixtures for the integration tests: a real Apache Kafka broker (KRaft,
started by scripts/kafka.sh on free ports in a temporary folder and stopped
afterwards) and helpers to run the luastream binary."""
import json
import os
import socket
import subprocess
import tempfile
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "luastream")
KAFKA_SH = os.path.join(ROOT, "scripts", "kafka.sh")
SAMPLE = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "sf-police-calls-sample.json"))
RADIO = os.path.join(ROOT, "data", "radio_code.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, tmp):
        self.port = free_port()
        self.cport = free_port()
        self.env = dict(os.environ, KAFKA_PORT=str(self.port),
                        KAFKA_CONTROLLER_PORT=str(self.cport),
                        KAFKA_DATA=os.path.join(tmp, "kafka"))
        self.bootstrap = "127.0.0.1:%d" % self.port

    def sh(self, *args, timeout=180):
        return subprocess.run([KAFKA_SH, *args], env=self.env, check=True, timeout=timeout,
                              capture_output=True, text=True)

    def create_topic(self, name=None, partitions=1):
        name = name or "t-" + uuid.uuid4().hex[:10]
        self.sh("create-topic", name, str(partitions))
        return name


class Cluster(Broker):
    """A cluster of scripts/kafka.sh (start --brokers N) on free ports: the
    same commands as Broker's, plus stopping and starting one broker
    (numbered 1..N) to test an outage."""

    def __init__(self, tmp, brokers=3):
        ports = set()
        while len(ports) < 2 * brokers:
            ports.add(free_port())
        ports = sorted(ports)
        self.brokers = brokers
        self.ports, self.cports = ports[:brokers], ports[brokers:]
        self.env = dict(os.environ, KAFKA_PORT=str(self.ports[0]),
                        KAFKA_CONTROLLER_PORT=str(self.cports[0]),
                        KAFKA_PORTS=",".join(map(str, self.ports)),
                        KAFKA_CONTROLLER_PORTS=",".join(map(str, self.cports)),
                        KAFKA_DATA=os.path.join(tmp, "kafka-cluster"))
        self.bootstrap = ",".join("127.0.0.1:%d" % p for p in self.ports)

    def start(self):
        return self.sh("start", "--brokers", str(self.brokers)).stdout.strip()

    def stop_broker(self, i):
        self.sh("stop", "--node", str(i))

    def start_broker(self, i):
        self.sh("start", "--node", str(i))

    def create_topic(self, name=None, partitions=1, replication=3):
        name = name or "t-" + uuid.uuid4().hex[:10]
        self.sh("create-topic", name, str(partitions), str(replication))
        return name


@pytest.fixture(scope="session")
def broker():
    tmp = tempfile.mkdtemp(prefix="luastream-it-")
    b = Broker(tmp)
    b.sh("start")
    try:
        yield b
    finally:
        try:
            b.sh("stop")
        except Exception as e:  # never hide the test result behind a stop failure
            print("kafka stop failed:", e)


def run(args, timeout=120, check=True, cwd=ROOT, **kw):
    """Runs build/luastream with args (from the project's root unless cwd
    says otherwise); returns the CompletedProcess."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, **kw)
    if check and p.returncode != 0:
        raise AssertionError("luastream %s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def last_by_key(rows, key_fn):
    """The current value of each group: the last row written for its key."""
    out = {}
    for r in rows:
        out[key_fn(r)] = r
    return out
