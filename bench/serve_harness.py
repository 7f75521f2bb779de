"""What the server benchmarks and fault runs share: `longqa serve` as a child process on an
ephemeral port, tiny random models to serve, percentiles. Standard library only."""
import http.client
import json
import os
import re
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LONGQA = os.path.join(ROOT, "build", "cli", "longqa")


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def tiny_models(binary, work, reader_layers=1, reader_hidden=32):
    """A random LittleBird reader and a random BERT text encoder (`longqa model init`, the
    Korean WordPiece vocabulary): fast enough that a run measures the server, not the model."""
    vocab = os.path.join(ROOT, "models", "vocab", "kobigbird", "vocab.txt")
    configs = {
        "reader": {"model_type": "littlebird", "vocab_size": 32500, "hidden_size": reader_hidden,
                   "num_hidden_layers": reader_layers, "num_attention_heads": 4, "intermediate_size": 2 * reader_hidden,
                   "block_size": 16, "pack_size": 8, "max_seq_length": 4096},
        "encoder": {"model_type": "bert", "vocab_size": 32500, "hidden_size": 32, "num_hidden_layers": 1,
                    "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 128},
    }
    dirs = {}
    for name, config in configs.items():
        path = os.path.join(work, name + ".json")
        with open(path, "w") as f:
            json.dump(config, f)
        dirs[name] = os.path.join(work, name)
        subprocess.run([binary, "model", "init", "--config", path, "--vocab", vocab, "--out", dirs[name]], check=True,
                       stdout=subprocess.DEVNULL)
    return dirs["reader"], dirs["encoder"]


class Server:
    """`longqa serve` as a child process on an ephemeral port; ready (health 200) once constructed."""

    def __init__(self, binary, args, log_path, ready_timeout_s=300):
        self.log_path = log_path
        self.log = open(log_path, "a")
        earlier = len(re.findall(r"listening on https?://", self.log_text()))  # a log shared by restarts
        self.proc = subprocess.Popen([binary, "serve", "--port", "0", *args], stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.time() + ready_timeout_s
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log_text())
            found = re.findall(r"listening on https?://[^:]+:(\d+)", self.log_text())
            if len(found) > earlier:
                self.port = int(found[-1])
            time.sleep(0.02)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log_text())
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("server not ready: " + self.log_text())

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def metrics(self):
        text = self.request("GET", "/metrics")[1].decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and "{" not in line:
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def requests_served(self):
        """Requests answered (by /metrics), health checks and metrics scrapes left out."""
        total = 0
        for line in self.request("GET", "/metrics")[1].decode().splitlines():
            if line.startswith("longqa_requests_total{") and "/health" not in line and "/metrics" not in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=300)
        self.log.close()
        return code
