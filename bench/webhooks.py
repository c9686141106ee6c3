"""make bench's webhook figure: events delivered per second by `pdi worker` to one endpoint (in
order, each signed, its progress committed after each 2xx), against a plain httpx client posting
the same bodies with the same headers to the same receiver, one after the other; and the
endpoint's lag (pdi_webhook_lag_seconds) at its highest meanwhile."""

import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "2000"))


class _Receiver:
    def __init__(self):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bench"


def measure_webhooks(url: str, key: str, *, served, pdi_command, app_environment, report) -> None:
    os.environ["PDI_WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver listens on loopback
    receiver = _Receiver()
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT cursor FROM change WHERE kind = 'pathway' ORDER BY cursor DESC LIMIT %s", (EVENTS + 1,)
        ).fetchall()
    events = min(EVENTS, len(rows) - 1)
    after, last = rows[events][0], rows[0][0]
    with served("app.main:app", url, 1) as (base, _server):
        headers = {"Authorization": f"Bearer {key}"}
        endpoint = (
            httpx.post(f"{base}/api/v1/webhooks", json={"url": receiver.url, "kinds": ["pathway"]}, headers=headers)
            .raise_for_status()
            .json()
        )
        httpx.post(
            f"{base}/api/v1/webhooks/{endpoint['id']}/replay", json={"after": after}, headers=headers
        ).raise_for_status()
        worker = subprocess.Popen(
            [*pdi_command, "worker", "--concurrency", "1"],
            env=app_environment(url) | {"PDI_WORKER_POLL_SECONDS": "0.05"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started, highest_lag = time.perf_counter(), 0.0
        pattern = re.compile(rf'^pdi_webhook_lag_seconds{{endpoint="{endpoint["id"]}"}} (\S+)$', re.M)
        try:
            while True:
                with psycopg.connect(url) as connection:
                    cursor = connection.execute(
                        "SELECT cursor FROM webhook_endpoint WHERE id = %s", (endpoint["id"],)
                    ).fetchone()[0]
                if cursor >= last:
                    break
                found = pattern.search(httpx.get(f"{base}/metrics", timeout=30).text)
                highest_lag = max(highest_lag, float(found.group(1)) if found else 0.0)
                assert worker.poll() is None, "pdi worker exited"
                assert time.perf_counter() - started < 1800, "the worker did not catch up in 30 minutes"
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    delivered = receiver.requests[:events]
    with httpx.Client(timeout=30, follow_redirects=False, trust_env=False) as client:
        plain_started = time.perf_counter()
        for sent_headers, body in delivered:
            names = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")
            client.post(receiver.url, content=body, headers={n: sent_headers[n] for n in names if n in sent_headers})
        plain = time.perf_counter() - plain_started
    receiver.server.shutdown()
    report(
        f"webhook deliveries by pdi worker, one endpoint, {events:,} events",
        events / elapsed,
        "events/s",
        "a plain httpx client posting the same bodies to the same receiver",
        len(delivered) / plain,
    )
    print(f"webhook lag at its highest meanwhile: {highest_lag:.1f} s (the backlog replayed at once)", flush=True)
