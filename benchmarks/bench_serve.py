"""Load test of ``simkit serve`` (issue 16), on 127.0.0.1 only.

Run:  .venv/bin/python benchmarks/bench_serve.py [--participants 100] [--questions 80]

Starts ``simkit serve`` on a fresh demo study (80 questions) in its own process, then
N simulated participants at once (one thread and one keep-alive connection each) join and
answer every question; one answer in ten is sent twice, as a page does after a lost
connection. Checks that the store holds every vote exactly once, with the choice sent,
prints the p50/p95/max answer latency (request to confirmation) and writes
benchmarks/results/serve.json. ``tests/test_serve.py`` runs the same driver at 10 × 10.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PAIRS = ["a-b", "a-c", "a-d", "a-e", "b-c", "b-d", "b-e", "c-d", "c-e", "d-e"]


def start_server(study: Path, *extra: str, timeout: float = 60.0
                 ) -> tuple[subprocess.Popen, str, str]:
    """``simkit serve STUDY --port 0`` in a new process; returns it and the participants'
    and teacher's links (read from what it prints)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "simkit", "serve", str(study), "--port", "0",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT)
    links: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    lines = []
    while len(links) < 2:
        line = proc.stdout.readline()
        lines.append(line)
        if not line or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("simkit serve did not start:\n" + "".join(lines))
        m = re.match(r"(participants|teacher):\s+(\S+)", line)
        if m:
            links[m.group(1)] = m.group(2)
    # drain the rest of its output so a full pipe never blocks the server
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, links["participants"], links["teacher"]


class Client:
    """One participant's keep-alive connection to the server."""

    def __init__(self, link: str) -> None:
        parts = urlsplit(link)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, action: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body)
        for attempt in range(5):   # a dropped keep-alive connection: reconnect, resend
            try:
                self.conn.request("POST", f"{self.path}api/{action}", data,
                                  {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                return response.status, json.loads(response.read() or b"{}")
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        raise RuntimeError(f"no answer to {action} after 5 tries")


def participant(link: str, seed: int, resend: float = 0.1) -> dict:
    """Join with a random code and answer every question; returns the code, the id, the
    answers sent and each answer's latency (seconds)."""
    rng = random.Random(seed)
    code = "".join(rng.choice(ALPHABET) for _ in range(10))
    client = Client(link)
    status, joined = client.post("join", {"code": code, "consent": True, "familiarity":
                                          rng.randint(1, 5), "field": "Other",
                                          "visual_impairment": "no", "language": "en"})
    assert status == 200, (status, joined)
    sent, latencies = {}, []
    for qid in joined["order"]:
        choice = rng.choice(PAIRS)
        body = {"code": code, "participant_id": joined["participant_id"], "question_id": qid,
                "choice": choice, "seconds": round(rng.uniform(1, 9), 3)}
        t = time.perf_counter()
        status, out = client.post("answer", body)
        latencies.append(time.perf_counter() - t)
        assert status == 200 and out["choice"] == choice, (status, out)
        if rng.random() < resend:   # the page's retry after a lost confirmation
            assert client.post("answer", body)[0] == 200
        sent[qid] = choice
    client.conn.close()
    return {"code": code, "participant_id": joined["participant_id"], "sent": sent,
            "latencies": latencies}


def drive(link: str, participants: int, seed: int = 0) -> list[dict]:
    """``participants`` simulated participants at once against the server at ``link``."""
    with ThreadPoolExecutor(participants) as pool:
        return list(pool.map(lambda i: participant(link, seed * 100_003 + i),
                             range(participants)))


def check_store(store_path: Path, results: list[dict], questions: int) -> int:
    """Every vote sent is in the store exactly once, with its choice; returns the count."""
    import sqlite3

    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT participant_id, question_id, choice FROM responses"
                            ).fetchall()
    got = {}
    for pid, qid, choice in rows:
        assert (pid, qid) not in got, f"duplicate vote {pid} {qid}"
        got[(pid, qid)] = choice
    want = {(r["participant_id"], q): c for r in results for q, c in r["sent"].items()}
    assert got == want, f"{len(got)} votes stored, {len(want)} sent, {len(set(got) ^ set(want))} differ"
    assert all(len(r["sent"]) == questions for r in results)
    return len(got)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--groups-per-genre", type=int, default=20,
                        help="4 genres × this = questions (default 80)")
    args = parser.parse_args()
    from simkit.study.demo import make_demo_study

    with tempfile.TemporaryDirectory() as tmp:
        study = make_demo_study(Path(tmp) / "study", groups_per_genre=args.groups_per_genre,
                                image_size=64)
        questions = len(study.questions)
        proc, link, _ = start_server(study.root)
        try:
            t = time.perf_counter()
            results = drive(link, args.participants)
            wall = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(30)
        n = check_store(study.root / "votes.sqlite", results, questions)
    latencies = [x for r in results for x in r["latencies"]]
    figures = {"participants": args.participants, "questions": questions, "votes": n,
               "wall_s": round(wall, 2), "answers_per_s": round(len(latencies) / wall, 1),
               "p50_ms": round(1000 * percentile(latencies, 50), 1),
               "p95_ms": round(1000 * percentile(latencies, 95), 1),
               "max_ms": round(1000 * max(latencies), 1),
               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(f"{args.participants} participants × {questions} questions at once: {n} votes, "
          f"each kept exactly once")
    print(f"answer latency p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, max "
          f"{figures['max_ms']} ms; {figures['answers_per_s']} answers/s over "
          f"{figures['wall_s']} s (load average {figures['load_average']:.1f}, "
          f"{figures['cpus']} CPUs)")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "serve.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
