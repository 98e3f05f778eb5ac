#!/usr/bin/env python3
"""perflab load against wrk, side by side in one run (DESIGN.md budget):

  1. CPU seconds per request, perflab load vs wrk, against the same nginx on
     loopback, one load thread, the same connections, interleaved runs; perflab
     records both histograms and writes its profile (latency.hlog) as usual.
  2. Open loop: achieved rate vs target at a rate nginx sustains.
  3. Coordinated omission: a server that stalls once for 500 ms during an
     open-loop run; p99 from due time (corrected) vs from send (uncorrected).

Usage: bench/load_bench.py [BUILD_DIR] [REPEATS] [SECONDS]
CPU time is the load generator's own user+sys (getrusage of the child).
"""
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"load_bench: nothing listens on port {port} after {timeout} s")


def timed_child(argv):
    """Runs argv; returns (stdout, cpu seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"load_bench: {' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def start_nginx(scratch, port):
    os.chmod(scratch, 0o755)  # nginx's workers run as www-data when started by root
    root = os.path.join(scratch, "www")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("x" * 256)
    conf = os.path.join(scratch, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {scratch}/nginx.pid;
error_log {scratch}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {scratch}/body;
  proxy_temp_path {scratch}/proxy;
  fastcgi_temp_path {scratch}/fastcgi;
  uwsgi_temp_path {scratch}/uwsgi;
  scgi_temp_path {scratch}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-c", conf, "-p", scratch],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def cpu_per_request(perflab, scratch, url, repeats, seconds, connections):
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("load_bench: wrk is not installed (apt-get install wrk)")
    rows = {"wrk": [], "perflab": []}
    for r in range(repeats):
        # Interleaved, so a noisy moment hurts both alike.
        out, cpu = timed_child([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", url])
        match = re.search(r"(\d+) requests in", out)
        rows["wrk"].append((cpu, int(match.group(1))))
        profile = os.path.join(scratch, f"perflab-{r}")
        out, cpu = timed_child([perflab, "load", url, "-t", "1", "-c", str(connections),
                                "-d", f"{seconds}s", "-q", "-o", profile])
        with open(os.path.join(profile, "summary.json")) as f:
            requests = json.load(f)["load"]["requests"]
        rows["perflab"].append((cpu, requests))
    per = {name: [cpu / n * 1e6 for cpu, n in values] for name, values in rows.items()}
    ratios = [p / w for p, w in zip(per["perflab"], per["wrk"])]
    print(f"cpu per request, nginx on loopback, 1 thread, {connections} connections, "
          f"{seconds} s runs x {repeats}")
    for name in ("wrk", "perflab"):
        rps = statistics.median(n / seconds for _, n in rows[name])
        print(f"  {name:8s} median {statistics.median(per[name]):7.3f} us/request "
              f"(runs: {', '.join(f'{v:.3f}' for v in per[name])}), ~{rps:,.0f} req/s")
    print(f"  perflab / wrk: {statistics.median(ratios):.3f}x median "
          f"(runs: {', '.join(f'{v:.3f}' for v in ratios)}; budget <= 1.0)")
    return statistics.median(ratios)


def open_loop_accuracy(perflab, scratch, url, repeats, seconds, rate):
    print(f"open loop at {rate} req/s for {seconds} s x {repeats}, 1 thread, 20 connections")
    ratios = []
    for r in range(repeats):
        profile = os.path.join(scratch, f"open-{r}")
        timed_child([perflab, "load", url, "-t", "1", "-c", "20", "-R", str(rate),
                     "-d", f"{seconds}s", "-q", "-o", profile])
        with open(os.path.join(profile, "summary.json")) as f:
            load = json.load(f)["load"]
        ratios.append(load["achieved_rps"] / load["target_rps"])
        print(f"  run {r}: target {load['target_rps']:.1f}/s achieved {load['achieved_rps']:.1f}/s"
              f" ({100 * (ratios[-1] - 1):+.3f}%), late {load['behind_schedule']['late_requests']},"
              f" p99 {load['latency_p99_us']:.0f} us")
    print(f"  achieved / target: {statistics.median(ratios):.5f} median (budget within 0.5%)")


def memory_flat(perflab, scratch, url, seconds):
    """Peak RSS of a run and of one five times as long, as perflab reports it
    (load.generator.peak_rss_bytes): equal when nothing grows with the run."""
    print("memory: perflab load's own peak RSS, open loop 20000 req/s, 1 thread, 10 connections")
    for length in (seconds, 5 * seconds):
        profile = os.path.join(scratch, f"memory-{length}")
        timed_child([perflab, "load", url, "-t", "1", "-c", "10", "-R", "20000", "-d", f"{length}s",
                     "-q", "-o", profile])
        with open(os.path.join(profile, "summary.json")) as f:
            load = json.load(f)["load"]
        print(f"  {length:3d} s run: {load['requests']:9d} requests, peak RSS "
              f"{load['generator']['peak_rss_bytes'] / 2**20:6.2f} MiB")


def stall_demo(perflab, scratch, server):
    port_file = os.path.join(scratch, "stall.port")
    process = subprocess.Popen([server, "--port-file", port_file, "--stall-after", "2000",
                                "--stall-ms", "500"])
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    port = int(open(port_file).read())
    profile = os.path.join(scratch, "stall")
    timed_child([perflab, "load", f"http://127.0.0.1:{port}/", "-c", "4", "-R", "1000", "-d", "5s",
                 "-q", "-o", profile])
    process.terminate()
    process.wait()
    with open(os.path.join(profile, "summary.json")) as f:
        load = json.load(f)["load"]
    print("coordinated omission: server stalls once for 500 ms, open loop 1000 req/s, 5 s, "
          "4 connections")
    print(f"  p99 from due time (corrected): {load['latency_p99_us'] / 1000:8.2f} ms")
    print(f"  p99 from send (uncorrected):   {load['service_p99_us'] / 1000:8.2f} ms")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    perflab = os.path.realpath(os.path.join(build, "src/cli/perflab"))
    server = os.path.realpath(os.path.join(build, "tests/load_test_server"))
    if not os.access(perflab, os.X_OK):
        sys.exit(f"load_bench: build {build} first (no {perflab})")
    scratch = tempfile.mkdtemp(prefix="perflab-load-bench-")
    nginx = None
    try:
        port = free_port()
        nginx = start_nginx(scratch, port)
        url = f"http://127.0.0.1:{port}/index.html"
        cpu_per_request(perflab, scratch, url, repeats, seconds, 10)
        open_loop_accuracy(perflab, scratch, url, max(1, repeats // 2), seconds, 20000)
        memory_flat(perflab, scratch, url, seconds)
        if os.access(server, os.X_OK):
            stall_demo(perflab, scratch, server)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
