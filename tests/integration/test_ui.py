"""The web UI and its endpoints (--ui): JSON API, Prometheus metrics,
health, bad requests and many connections, without disturbing the stream."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, ROOT, SAMPLE, free_port, read_jsonl, run
import expected
from test_pipeline import PIPELINE, check_results


def get(port, path, method="GET", headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


@pytest.fixture
def job(broker, tmp_path):
    topic = broker.create_topic(partitions=2)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    port = free_port()
    out = tmp_path / "out"
    p = subprocess.Popen([BIN, PIPELINE, "--set", "bootstrap=" + broker.bootstrap,
                          "--set", "topic=" + topic, "--set", "output=jsonl:" + str(out),
                          "--set", "max_records_per_trigger=1000", "--trigger", "200ms",
                          "--ui", "127.0.0.1:%d" % port, "--progress", str(tmp_path / "p.jsonl")],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    yield port, out, tmp_path / "p.jsonl", p
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)


def wait_done(progress, n=6802):
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(progress):
            reps = [r for r in read_jsonl(progress) if r["name"] == "crime_type_counts"]
            if sum(r["numInputRows"] for r in reps) >= n:
                return
        time.sleep(0.2)


def test_api_metrics_and_health(job):
    port, out, progress, p = job
    wait_done(progress)
    status, ctype, body = get(port, "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, ctype, body = get(port, "/api/queries")
    qs = json.loads(body)
    assert [q["name"] for q in qs] == ["crime_type_counts", "disposition_counts"]
    assert qs[0]["inputRows"] == 6802 and qs[0]["state"] == "active"
    assert qs[0]["lastProgress"]["stateOperators"][0]["numRowsTotal"] == 9672
    status, _, body = get(port, "/api/queries/crime_type_counts/progress?last=3")
    hist = json.loads(body)
    assert status == 200 and len(hist) == 3
    assert [h["batchId"] for h in hist] == sorted(h["batchId"] for h in hist)
    status, ctype, body = get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    lines = body.splitlines()
    assert 'luastream_input_rows_total{query="crime_type_counts"} 6802' in lines
    assert 'luastream_state_rows{query="crime_type_counts"} 9672' in lines
    assert "# TYPE luastream_batch_duration_seconds histogram" in lines
    assert any(l.startswith('luastream_batch_duration_seconds_bucket{query="disposition_counts",le="+Inf"}')
               for l in lines)
    assert "luastream_up 1" in lines
    status, ctype, body = get(port, "/")
    assert status == 200 and "text/html" in ctype and "/api/queries" in body  # charts drawn client-side


def test_bad_requests_and_many_connections_do_not_disturb_the_stream(job):
    port, out, progress, p = job
    assert get(port, "/nope")[0] == 404
    assert get(port, "/api/queries/nope/progress")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    try:  # a header larger than the connection's memory: refused, or the connection dropped
        status = get(port, "/metrics", headers={"X-Big": "a" * 100000})[0]
        assert status in (413, 431, 400)
    except (ConnectionResetError, urllib.error.URLError):
        pass
    # 200 idle connections and 50 half-sent requests while the job runs
    socks = []
    for i in range(250):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            if i % 5 == 0:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            pass
        socks.append(s)
    wait_done(progress)
    for s in socks:
        s.close()
    # the server notices the closed connections (64 per client at most) on its own time
    deadline = time.time() + 10
    while True:
        try:
            assert get(port, "/healthz")[0] == 200
            break
        except (ConnectionResetError, urllib.error.URLError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == 0
    check_results(out, expected.load(SAMPLE))


def test_bad_ui_address_is_a_clear_error(tmp_path):
    p = run([PIPELINE, "--ui", "999999"], check=False)
    assert p.returncode == 2 and "--ui expects [HOST:]PORT with PORT from 1 to 65535, got \"999999\"" in p.stderr
    p = run([PIPELINE, "--ui", "nowhere:80"], check=False)
    assert p.returncode == 2 and "--ui nowhere:80: expected PORT or HOST:PORT with an IPv4 host" in p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run([PIPELINE, "--ui", str(port)], check=False)
        assert p.returncode == 2 and "cannot listen" in p.stderr


def test_page_in_headless_chromium_shows_live_charts(job, tmp_path):
    """Debian's Chromium driven by playwright-core: the page fills its
    charts from the API while the job runs; the screenshot is saved (and
    becomes docs/ui.png with UPDATE_SCREENSHOT=1)."""
    port, out, progress, p = job
    ui = os.path.join(ROOT, "tests", "ui")
    if not os.path.isdir(os.path.join(ui, "node_modules", "playwright-core")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ui, check=True,
                       timeout=300)
    wait_done(progress, 3000)
    shot = tmp_path / "ui.png"
    r = subprocess.run(["node", os.path.join(ui, "screenshot.mjs"), "http://127.0.0.1:%d/" % port,
                        str(shot)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert shot.stat().st_size > 10000
    if os.environ.get("UPDATE_SCREENSHOT"):
        os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
        with open(os.path.join(ROOT, "docs", "ui.png"), "wb") as f:
            f.write(shot.read_bytes())


def test_log_line_names_the_real_address(tmp_path):
    """--ui PORT logged the literal text http://127.0.0.1:<port>/."""
    s = tmp_path / "job.lua"
    s.write_text('local ls = require "luastream"\n'
                 'ls.query "q" { from = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1",\n'
                 '  connect_timeout = "1 second" }, group_by = { "a" } }\n')
    port = free_port()
    p = run([str(s), "--ui", str(port)], check=False, timeout=60)
    assert "luastream: web UI on http://127.0.0.1:%d/\n" % port in p.stderr, p.stderr
    assert "<port>" not in p.stderr


def png_pixels(path):
    """(width, height, bytes per pixel, rows) of an 8-bit RGB/RGBA PNG."""
    import struct
    import zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6)
        elif kind == b"IDAT":
            idat += body
    bpp = {2: 3, 6: 4}[ctype]
    raw, stride, prev, rows, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def chromium(*args):
    return subprocess.run([os.environ.get("CHROMIUM", "/usr/bin/chromium"), "--headless",
                           "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update",
                           "--window-size=1400,1000", *args],
                          capture_output=True, text=True, timeout=120)


def test_plain_headless_screenshot_shows_the_charts(job, tmp_path):
    """A plain `chromium --headless --screenshot` of / (no virtual time
    budget) showed only the table: the charts came from a fetch after load.
    The page now carries the figures and draws while it loads."""
    port, out, progress, p = job
    wait_done(progress, 3000)
    shot = tmp_path / "plain.png"
    r = chromium("--screenshot=%s" % shot, "http://127.0.0.1:%d/" % port)
    assert shot.exists(), r.stderr
    w, h, bpp, rows = png_pixels(str(shot))
    series = {(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e)}
    colored = sum(1 for row in rows for x in range(0, w * bpp, bpp) if tuple(row[x:x + 3]) in series)
    assert colored > 1500, "the screenshot shows no chart lines (%d series pixels)" % colored


def test_charts_have_a_time_axis_and_a_scale_that_fits(job, tmp_path):
    import re
    port, out, progress, p = job
    wait_done(progress)  # all of it: the figures stay still while we compare
    dom = chromium("--dump-dom", "http://127.0.0.1:%d/" % port).stdout
    body = dom[dom.index('<div id="detail">'):dom.index('<script>')]  # drawn, not the templates
    charts = re.findall(r'<svg[^>]*aria-label="([^"]*)"(.*?)</svg>', body, re.S)
    assert len(charts) == 10, dom[:2000]
    for title, svg in charts:
        xt = re.findall(r'class="xtick"[^>]*>([^<]*)<', svg)
        assert xt and all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in xt), (title, xt)
        assert 3 <= len(re.findall(r'class="ytick"', svg)) <= 6, title
        assert 'class="series"' in svg, title
    # state memory on an axis fitted to each query's own figures: about a
    # megabyte for crime_type_counts, a few kilobytes for disposition_counts
    # (which vanished on a fixed 0-1 MB axis)
    memory_charts = [svg for title, svg in charts if title == "state memory"]
    for name, svg in zip(["crime_type_counts", "disposition_counts"], memory_charts):
        status, _, body = get(port, "/api/queries/%s/progress?last=120" % name)
        mem = max(h["stateOperators"][0]["memoryUsedBytes"] for h in json.loads(body))
        top = re.findall(r'class="ytick"[^>]*>([^<]*)<', svg)[-1]
        value, unit = top.split()
        top_bytes = float(value) * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
        assert mem <= top_bytes * 1.05 and top_bytes <= mem * 2.6, (name, top, mem)
