#!/usr/bin/env python3
"""A/B comparison of two locus binaries by server CPU per registration,
measured the way bench/compare.py measures it (SIPp at a fixed rate on
loopback, utime+stime of the server from /proc), with the two binaries
interleaved round by round so that the machine's drift hits both alike.

    bench/ab.py OLD_BINARY NEW_BINARY [--rounds 3] [--rate 4000] [--count 60000]

Every load is bounded in count and time and targets 127.0.0.1 only; the
servers are started by this script and stopped by PID. Prints one line per
run and, per configuration, the range of each binary and the ratio of the
medians (new / old).
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the measurement helpers)


def cpu_per_registration(binary, auth, workdir, args):
    """One fresh server of `binary` (an empty data directory of its own:
    a server started on the last one's bindings would measure refreshes,
    not registrations), one fixed-rate SIPp run: µs of server CPU per
    successful registration, and the failures."""
    compare.LOCUS = binary
    with tempfile.TemporaryDirectory(dir=workdir, prefix="run-") as rundir:
        server = compare.Server("locus", auth, rundir, args.users).start()
        try:
            before = compare.cpu_seconds(server.proc.pid)
            r = compare.run_sipp(server, rundir, args.rate, args.count, args.users, 120)
            after = compare.cpu_seconds(server.proc.pid)
        finally:
            server.stop()
    return (after - before) * 1e6 / max(r["ok"], 1), r["failed"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=int, default=4000)
    ap.add_argument("--count", type=int, default=60000)
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--only", choices=["locus", "locus-auth"], action="append")
    args = ap.parse_args()
    configs = [c for c in (("locus", False), ("locus-auth", True))
               if not args.only or c[0] in args.only]
    results = {(name, which): [] for name, _ in configs for which in ("old", "new")}
    with tempfile.TemporaryDirectory(prefix="locus-ab-") as workdir:
        for rnd in range(args.rounds):
            for name, auth in configs:
                order = [("old", args.old), ("new", args.new)]
                if rnd % 2:
                    order.reverse()
                for which, binary in order:
                    us, failed = cpu_per_registration(binary, auth, workdir, args)
                    results[(name, which)].append(us)
                    print(f"round {rnd + 1} {name:10} {which}: {us:6.1f} µs/registration"
                          f" ({failed} failed)", flush=True)
    for name, _ in configs:
        old, new = results[(name, "old")], results[(name, "new")]
        ratio = statistics.median(new) / statistics.median(old)
        print(f"{name:10} old {min(old):.1f}-{max(old):.1f} µs, new {min(new):.1f}-{max(new):.1f} µs,"
              f" median ratio new/old {ratio:.2f}")


if __name__ == "__main__":
    main()
