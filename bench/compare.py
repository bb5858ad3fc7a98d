#!/usr/bin/env python3
"""Side-by-side registrar benchmark: Kamailio (Debian package, usrloc in
memory) against locus (durable SQLite store), driven by the same SIPp load
on loopback. Standard library only. With kamailio-sqlite-modules installed,
Kamailio writing usrloc through to SQLite (kamailio-db-auth) is measured
too, for a durable-to-durable comparison.

Every load is bounded in count and time and targets 127.0.0.1 only. The
servers are started by this script and stopped by PID.

    bench/compare.py --quick            # a short smoke run (a few minutes)
    bench/compare.py                    # the full run behind docs/PERFORMANCE.md
    bench/compare.py --only locus-auth  # one server configuration

Results are printed as a Markdown table and written as JSON (--out).
"""

import argparse
import csv
import glob
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIPP_DIR = os.path.join(ROOT, "bench", "sipp")
KAMAILIO_CFG = os.path.join(ROOT, "bench", "kamailio", "registrar.cfg")
# Schema files of the kamailio-sqlite-modules package.
KAMAILIO_SQLITE_SCHEMA = "/usr/share/kamailio/db_sqlite"
LOCUS = os.environ.get("LOCUS_BIN", os.path.join(ROOT, "target", "release", "locus"))
PASSWORD = "secret"
DOMAIN = "example.com"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A port free for UDP and TCP on 127.0.0.1 at the time of the call."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


def process_tree(pid):
    """pid and every descendant (Kamailio forks its workers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    """utime + stime of the process tree, in seconds."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / CLK_TCK


def rss_kib(pid):
    """Resident memory of the process tree (KiB; shared pages counted once
    per process, which over-counts Kamailio's shared memory: we use PSS
    where the kernel offers it)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def wait_udp_ready(port, timeout=30.0):
    """Sends OPTIONS until the server answers (or raises)."""
    deadline = time.time() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    n = 0
    while time.time() < deadline:
        n += 1
        msg = (
            f"OPTIONS sip:{DOMAIN} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{s.getsockname()[1]};branch=z9hG4bKready{n};rport\r\n"
            f"From: <sip:probe@{DOMAIN}>;tag=1\r\nTo: <sip:{DOMAIN}>\r\n"
            f"Call-ID: ready{n}\r\nCSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            s.recvfrom(65535)
            s.close()
            return
        except socket.timeout:
            continue
    s.close()
    raise RuntimeError(f"server on port {port} did not answer within {timeout}s")


class Server:
    """A registrar process started by this script."""

    def __init__(self, kind, auth, workdir, users):
        self.kind, self.auth, self.workdir, self.users = kind, auth, workdir, users
        self.port = free_port()
        self.proc = None

    @property
    def name(self):
        return f"{self.kind}{'-auth' if self.auth else ''}"

    def start(self, fresh=True):
        log = open(os.path.join(self.workdir, f"{self.name}.log"), "a")
        if self.kind.startswith("kamailio"):
            cmd = ["kamailio", "-f", KAMAILIO_CFG, "-l", f"udp:127.0.0.1:{self.port}",
                   "-DD", "-E", "-x", "tlsf", "-X", "tlsf", "-m", "2048", "-M", "16",
                   "-Y", os.path.join(self.workdir, "kamailio-run")]
            os.makedirs(os.path.join(self.workdir, "kamailio-run"), exist_ok=True)
            if self.auth:
                cmd += ["-A", "WITH_AUTH"]
            if self.kind == "kamailio-db":
                db = os.path.join(self.workdir, f"{self.name}.sqlite")
                if fresh:
                    kamailio_db(db)
                cmd += ["-A", "WITH_DB", "-A", f'DBURL="sqlite://{db}"']
        else:
            data = os.path.join(self.workdir, f"{self.name}-data")
            if fresh:
                # A fresh server starts empty: the data of an earlier run
                # of the same name would turn its registrations into
                # refreshes.
                shutil.rmtree(data, ignore_errors=True)
            cmd = [LOCUS, "serve", "--listen", f"udp:127.0.0.1:{self.port}",
                   "--domain", DOMAIN, "--data-dir", data, "--log-level", "warn",
                   "--min-expires", "60", "--max-expires", "7200", "--rate-limit", "0"]
            if self.auth:
                users_file = os.path.join(self.workdir, "users.htdigest")
                if fresh:
                    write_htdigest(users_file, self.users)
                cmd += ["--users-file", users_file, "--auth", "on"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_udp_ready(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def version(self):
        if self.kind.startswith("kamailio"):
            out = subprocess.run(["kamailio", "-v"], capture_output=True, text=True).stdout
            return out.splitlines()[0] if out else "kamailio"
        out = subprocess.run([LOCUS, "--version"], capture_output=True, text=True).stdout
        return out.strip() or "locus"


def kamailio_db(path):
    """A fresh SQLite database with Kamailio's own schema for usrloc."""
    if os.path.exists(path):
        os.unlink(path)
    conn = sqlite3.connect(path)
    for part in ("standard", "usrloc"):
        with open(os.path.join(KAMAILIO_SQLITE_SCHEMA, f"{part}-create.sql")) as f:
            conn.executescript(f.read())
    conn.commit()
    conn.close()


def server_of(name):
    """(kind, auth) of a configuration name such as kamailio-db-auth."""
    auth = name.endswith("-auth")
    return (name[: -len("-auth")] if auth else name), auth


def write_htdigest(path, users):
    with open(path, "w") as f:
        for i in range(users):
            user = f"u{i}"
            ha1 = hashlib.md5(f"{user}:{DOMAIN}:{PASSWORD}".encode()).hexdigest()
            f.write(f"{user}:{DOMAIN}:{ha1}\n")


def write_injection(path, users, offset=0):
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(offset, offset + users):
            f.write(f"u{i};[authentication username=u{i} password={PASSWORD}];\n")


def run_sipp(server, workdir, rate, count, users, timeout_s, expires=None):
    """One bounded SIPp run; returns counts, rate, and response times (ms)."""
    scenario = os.path.join(SIPP_DIR, "register-auth.xml" if server.auth else "register.xml")
    if expires is not None:
        text = open(scenario).read().replace("Expires: 300", f"Expires: {expires}")
        scenario = os.path.join(workdir, f"scenario-{expires}-{os.path.basename(scenario)}")
        with open(scenario, "w") as f:
            f.write(text)
    inf = os.path.join(workdir, f"inj-{users}.csv")
    if not os.path.exists(inf):
        write_injection(inf, users)
    run_dir = tempfile.mkdtemp(dir=workdir, prefix="sipp-")
    cmd = ["sipp", "-sf", scenario, "-inf", inf, "-i", "127.0.0.1", "-p", str(free_port()),
           "-m", str(count), "-r", str(rate), "-rp", "1000", "-l", str(max(rate * 4, 1000)),
           "-timeout", str(timeout_s), "-timeout_error", "-nostdin", "-trace_stat", "-fd", "1",
           "-trace_rtt", "-rtt_freq", "1000", "-max_recv_loops", "10000",
           "-max_sched_loops", "10000", f"127.0.0.1:{server.port}"]
    started = time.time()
    subprocess.run(cmd, cwd=run_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=timeout_s + 30)
    elapsed = time.time() - started
    stat = glob.glob(os.path.join(run_dir, "*_[0-9]*_.csv"))
    rtt = glob.glob(os.path.join(run_dir, "*_rtt.csv"))
    ok = failed = retrans = 0
    if stat:
        rows = list(csv.reader(open(stat[0]), delimiter=";"))
        head, last = rows[0], rows[-1]
        ok = int(last[head.index("SuccessfulCall(C)")])
        failed = int(last[head.index("FailedCall(C)")])
        retrans = int(last[head.index("Retransmissions(C)")])
    times = []
    for f in rtt:
        for row in csv.reader(open(f), delimiter=";"):
            if len(row) >= 3 and row[0] != "Date_ms":
                try:
                    times.append(float(row[2]))
                except ValueError:
                    pass
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"ok": ok, "failed": failed, "retransmissions": retrans,
            "elapsed_s": elapsed, "times_ms": sorted(times), "finished_at": time.time()}


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[k]


def locus_bench(server, options, timeout_s):
    """One bounded `locus bench` run against `server` with `options`; its
    JSON report, or None and the error."""
    # Users u0 .. u{users-1}, the accounts write_htdigest creates.
    cmd = [LOCUS, "bench", "--user-start", "0", *options, "--json",
           f"udp:127.0.0.1:{server.port}"]
    if server.auth:
        cmd[2:2] = ["--password", PASSWORD]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    try:
        return json.loads(out.stdout), None
    except json.JSONDecodeError:
        return None, {"error": out.stderr.strip()[:300]}


def bench_latency(server, rate, seconds, users):
    """Latency percentiles (µs) from `locus bench` at a paced rate: the
    same generator against every server, with microsecond resolution."""
    report, error = locus_bench(server, ["--users", str(users), "--rate", str(rate),
                                         "--count", str(rate * seconds),
                                         "--duration", str(seconds + 5),
                                         "--concurrency", "2000"], seconds + 60)
    if error:
        return error
    lat = report.get("latency_us") or {}
    return {"rate": rate, "successes": report.get("successes"), "failed": report.get("failed"),
            "p50_us": lat.get("p50"), "p99_us": lat.get("p99"), "max_us": lat.get("max")}


def bench_max(server, seconds, users):
    """The rate `locus bench` reaches as fast as the server answers (1,000
    registrations outstanding; lost datagrams are retransmitted)."""
    report, error = locus_bench(server, ["--users", str(users), "--count", "200000",
                                         "--duration", str(seconds),
                                         "--concurrency", "1000"], seconds + 60)
    if error:
        return error
    lat = report.get("latency_us") or {}
    return {"rate": report.get("rate"), "successes": report.get("successes"),
            "failed": report.get("failed"), "retransmissions": report.get("retransmissions"),
            "p50_us": lat.get("p50"), "p99_us": lat.get("p99")}


def measure(server, workdir, args):
    """The figures for one server configuration."""
    res = {"server": server.name, "version": server.version()}
    registrations = 2 if server.auth else 1
    fixed_rate, fixed_count, rates = args.fixed_rate, args.fixed_count, args.rates
    if server.kind == "kamailio-db":
        # Write-through tops out near 1,600/s: its CPU figure is taken at
        # a rate it holds, and its steps start lower.
        fixed_rate = min(fixed_rate, 1000)
        fixed_count = fixed_count * fixed_rate // args.fixed_rate
        rates = [r for r in (100, 200, 500, 1000, 1500, 2000, 3000) if r < rates[0]] + rates
    # CPU per registration at a fixed rate both servers hold.
    before = cpu_seconds(server.proc.pid)
    r = run_sipp(server, workdir, fixed_rate, fixed_count, args.users, 120)
    after = cpu_seconds(server.proc.pid)
    res["fixed_rate"] = fixed_rate
    res["fixed_ok"] = r["ok"]
    res["fixed_failed"] = r["failed"]
    res["cpu_us_per_registration"] = (after - before) * 1e6 / max(r["ok"], 1)
    res["cpu_us_per_request"] = res["cpu_us_per_registration"] / registrations
    # Maximum sustained rate: the highest step with < 0.1% failures and the
    # offered rate reached within 10%.
    best = 0
    for rate in rates:
        count = rate * args.step_seconds
        before = cpu_seconds(server.proc.pid)
        r = run_sipp(server, workdir, rate, count, args.users, args.step_seconds * 4 + 10)
        cpu_us = (cpu_seconds(server.proc.pid) - before) * 1e6 / max(r["ok"], 1)
        achieved = r["ok"] / max(r["elapsed_s"], 1e-9)
        good = r["failed"] <= 0.001 * count and r["ok"] >= 0.999 * count and achieved >= 0.9 * rate
        res.setdefault("steps", []).append({"rate": rate, "ok": r["ok"], "failed": r["failed"],
                                            "achieved": round(achieved),
                                            "cpu_us_per_registration": round(cpu_us, 1),
                                            "p50_ms": pct(r["times_ms"], 50),
                                            "p99_ms": pct(r["times_ms"], 99)})
        if not good:
            break
        best = rate
    res["max_rate"] = best
    # Latency at 50% of this server's maximum.
    half = max(best // 2, 100)
    r = run_sipp(server, workdir, half, half * args.step_seconds, args.users, args.step_seconds * 4 + 10)
    res["latency_rate"] = half
    res["p50_ms"] = pct(r["times_ms"], 50)
    res["p99_ms"] = pct(r["times_ms"], 99)
    res["bench_latency"] = bench_latency(server, half, args.step_seconds, args.users)
    res["rss_kib"] = rss_kib(server.proc.pid)
    res["bench_max"] = bench_max(server, args.step_seconds + 5, args.users)
    return res


def options_probe(port, count=200, timeout=0.5):
    """Latencies (ms) of `count` sequential OPTIONS round trips."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(timeout)
    out = []
    for n in range(count):
        msg = (
            f"OPTIONS sip:{DOMAIN} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{s.getsockname()[1]};branch=z9hG4bKprobe{n}x{time.time_ns()};rport\r\n"
            f"From: <sip:probe@{DOMAIN}>;tag=1\r\nTo: <sip:{DOMAIN}>\r\n"
            f"Call-ID: probe{n}x{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        t0 = time.perf_counter()
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            s.recvfrom(65535)
            out.append((time.perf_counter() - t0) * 1000)
        except socket.timeout:
            out.append(timeout * 1000)
    s.close()
    return sorted(out)


def big_table(server, workdir, args):
    """Memory per binding with `args.big` AORs, warm restart (locus), and
    OPTIONS latency while those bindings expire."""
    res = {}
    before = rss_kib(server.proc.pid)
    scenario_users = args.big
    r = run_sipp(server, workdir, args.big_rate, scenario_users, scenario_users,
                 scenario_users // max(args.big_rate // 2, 1) + 60, expires=args.big_expires)
    res["big_registered"] = r["ok"]
    # Steady state: a UDP server keeps each completed transaction (and its
    # response) for Timer J, 32 s, to answer retransmissions (RFC 3261
    # §17.2.2); measure once those are gone, as for a server whose phones
    # refresh over hours rather than all in one burst.
    time.sleep(35)
    after = rss_kib(server.proc.pid)
    res["bytes_per_binding"] = (after - before) * 1024 / max(r["ok"], 1)
    if server.kind == "locus":
        server.stop()
        started = time.time()
        server.start(fresh=False)
        res["warm_restart_s"] = time.time() - started
    # Wait until the bindings are about to expire, then probe through it.
    wait = max(0.0, args.big_expires - (time.time() - r["finished_at"]) - 2)
    if wait == 0.0:
        print("warning: the expiry window began before probing", file=sys.stderr)
    time.sleep(wait)
    probe = []
    deadline = time.time() + 8
    while time.time() < deadline:
        probe.extend(options_probe(server.port, 100))
    probe.sort()
    res["expiry_probe_p50_ms"] = pct(probe, 50)
    res["expiry_probe_p99_ms"] = pct(probe, 99)
    res["expiry_probe_max_ms"] = probe[-1] if probe else None
    return res


def svg_chart(results, path):
    """Latency (p50 and p99) against offered load, one line per server."""
    w, h, m = 720, 420, 60
    series = [(r["server"], [(st["rate"], st["p50_ms"], st["p99_ms"]) for st in r.get("steps", [])
                             if st["p50_ms"] is not None]) for r in results]
    xs = [x for _, pts in series for x, _, _ in pts] or [1]
    ys = [y for _, pts in series for _, _, y in pts] or [1]
    xmax, ymax = max(xs) * 1.05, max(max(ys) * 1.1, 1)
    def px(x): return m + (w - 2 * m) * x / xmax
    def py(y): return h - m - (h - 2 * m) * y / ymax
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/>',
           f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-15}" text-anchor="middle">offered load (REGISTER/s)</text>',
           f'<text x="15" y="{h/2}" transform="rotate(-90 15 {h/2})" text-anchor="middle">latency (ms): solid p50, dashed p99</text>']
    for i in range(6):
        xv, yv = xmax * i / 5, ymax * i / 5
        out.append(f'<text x="{px(xv)}" y="{h-m+16}" text-anchor="middle">{xv:.0f}</text>')
        out.append(f'<text x="{m-6}" y="{py(yv)+4}" text-anchor="end">{yv:.1f}</text>')
    for i, (name, pts) in enumerate(series):
        c = colors[i % len(colors)]
        for idx, dash in ((1, ""), (2, ' stroke-dasharray="6 4"')):
            d = " ".join(f"{px(p[0]):.1f},{py(p[idx]):.1f}" for p in pts)
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{d}"/>')
        out.append(f'<text x="{w-m-150}" y="{m+18*i}" fill="{c}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--only", action="append",
                    help="kamailio, kamailio-auth, locus, locus-auth, kamailio-db-auth")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--chart", default=None, help="write the latency/load chart (SVG) here")
    ap.add_argument("--no-big", action="store_true", help="skip the 1M-binding measurements")
    ap.add_argument("--curve", default=None, metavar="SVG",
                    help="only draw latency (locus bench, p50/p99) against offered load for kamailio and locus into SVG")
    ap.add_argument("--latency-from", default=None, metavar="JSON",
                    help="only measure with locus bench (latency at 50%% of the maximum rates in JSON, "
                         "and the maximum rate), and update JSON")
    args = ap.parse_args()
    args.big_expires = 150
    if args.quick:
        args.users, args.fixed_rate, args.fixed_count = 2000, 1000, 5000
        args.rates, args.step_seconds = [2000, 4000], 3
        args.big, args.big_rate = 20000, 5000
    else:
        args.users, args.fixed_rate, args.fixed_count = 50000, 4000, 80000
        args.rates, args.step_seconds = [4000, 8000, 12000, 16000, 20000, 25000, 30000], 10
        args.big, args.big_rate = 1_000_000, 15000
    for tool in ["sipp", "kamailio"]:
        if not shutil.which(tool):
            sys.exit(f"{tool} is required (apt-get install sip-tester kamailio)")
    if not os.path.exists(LOCUS):
        sys.exit(f"{LOCUS} not found: run `cargo build --release` first")
    configs = [("kamailio", False), ("locus", False), ("kamailio", True), ("locus", True)]
    # Kamailio writing usrloc through to SQLite, for a durable-to-durable
    # comparison (it tops out far below the in-memory rates).
    if os.path.exists(os.path.join(KAMAILIO_SQLITE_SCHEMA, "usrloc-create.sql")):
        configs.append(("kamailio-db", True))
    else:
        print("kamailio-sqlite-modules not installed: skipping kamailio-db-auth", file=sys.stderr)
    if args.curve:
        curve = []
        with tempfile.TemporaryDirectory(prefix="locus-bench-") as workdir:
            for kind in ("kamailio", "locus"):
                server = Server(kind, False, workdir, args.users).start()
                steps = []
                try:
                    for rate in (2000, 4000, 6000, 8000, 10000, 12000, 14000):
                        b = bench_latency(server, rate, 5, args.users)
                        if b.get("p50_us") is None:
                            break
                        steps.append({"rate": rate, "p50_ms": b["p50_us"] / 1000,
                                      "p99_ms": b["p99_us"] / 1000, "failed": b["failed"]})
                        print(kind, b, file=sys.stderr)
                finally:
                    server.stop()
                curve.append({"server": kind, "steps": steps})
        svg_chart(curve, args.curve)
        print(json.dumps(curve, indent=1))
        return
    if args.latency_from:
        data = json.load(open(args.latency_from))
        with tempfile.TemporaryDirectory(prefix="locus-bench-") as workdir:
            for r in data["results"]:
                kind, auth = server_of(r["server"])
                if args.only and r["server"] not in args.only:
                    continue
                server = Server(kind, auth, workdir, args.users).start()
                try:
                    r["bench_latency"] = bench_latency(server, max(r["max_rate"] // 2, 100),
                                                       args.step_seconds, args.users)
                    r["bench_max"] = bench_max(server, args.step_seconds + 5, args.users)
                finally:
                    server.stop()
                print(r["server"], r["bench_latency"], r["bench_max"])
        with open(args.latency_from, "w") as f:
            json.dump(data, f, indent=2)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="locus-bench-") as workdir:
        for kind, auth in configs:
            name = f"{kind}{'-auth' if auth else ''}"
            if args.only and name not in args.only:
                continue
            server = Server(kind, auth, workdir, args.users).start()
            try:
                print(f"measuring {name} ...", file=sys.stderr)
                results.append(measure(server, workdir, args))
            finally:
                server.stop()
            if auth or args.no_big:
                continue
            print(f"{name}: {args.big} bindings ...", file=sys.stderr)
            server = Server(kind, auth, workdir, args.big).start()
            try:
                results[-1].update(big_table(server, workdir, args))
            finally:
                server.stop()
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "processor": platform.processor() or platform.machine()}
    print("| server | CPU µs / registration | max rate (reg/s, SIPp) | max rate (locus bench): reg/s, failed | p50 / p99 µs at 50% of max (locus bench) | PSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        bl = r.get("bench_latency", {})
        bm = r.get("bench_max", {})
        print(f"| {r['server']} | {r['cpu_us_per_registration']:.1f} | {r['max_rate']} | "
              f"{bm.get('rate')}, {bm.get('failed')} | "
              f"{bl.get('p50_us')} / {bl.get('p99_us')} | {r['rss_kib'] / 1024:.1f} |")
    print()
    print("CPU µs per registration at each step of the maximum-rate search (offered/s: µs):")
    for r in results:
        steps = ", ".join(f"{st['rate']}: {st['cpu_us_per_registration']}"
                          + ("" if st["failed"] == 0 else f" ({st['failed']} failed)")
                          for st in r.get("steps", []))
        print(f"- {r['server']}: {steps}")
    big = [r for r in results if "bytes_per_binding" in r]
    if big:
        print()
        print("| server | bindings | bytes / binding | warm restart s | OPTIONS p50 / p99 / max ms while they expire |")
        print("|---|---|---|---|---|")
        for r in big:
            restart = f"{r['warm_restart_s']:.2f}" if "warm_restart_s" in r else "n/a (in memory)"
            print(f"| {r['server']} | {r['big_registered']} | {r['bytes_per_binding']:.0f} | {restart} | "
                  f"{r['expiry_probe_p50_ms']:.2f} / {r['expiry_probe_p99_ms']:.2f} / {r['expiry_probe_max_ms']:.2f} |")
    if args.chart:
        svg_chart(results, args.chart)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": machine, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
