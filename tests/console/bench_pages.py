#!/usr/bin/env python3
"""How fast the console's pages are with many executions in the store (a bench command, not
a test: BENCHMARKS.md has the figures and the machine).

Fills a running `sluice serve` through its own API (StartExecution, unsigned, from 8
threads) with N executions of four state machines: most succeed, a tenth fail, a hundred wait
on a human approval. Then loads each console page R times and prints the median and the
slowest time of each, and the slowest page.

Usage: bench_pages.py ENDPOINT [--executions N] [--repeat R]
"""

import argparse
import concurrent.futures
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("endpoint")
parser.add_argument("--executions", type=int, default=100_000)
parser.add_argument("--repeat", type=int, default=20)
args = parser.parse_args()
url = urllib.parse.urlparse(args.endpoint)
local = threading.local()


def connection():
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    return local.conn


def api(action, body):
    conn = connection()
    conn.request(
        "POST",
        "/",
        json.dumps(body),
        {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{action}"},
    )
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{action}: {response.status} {data[:300]!r}")
    return json.loads(data)


def page(path):
    conn = connection()
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    took = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    return took, body


ROLE = "arn:aws:iam::123456789012:role/bench"
activity = api("CreateActivity", {"name": "bench-approval"})["activityArn"]


def machine(name, definition):
    return api("CreateStateMachine", {"name": name, "definition": json.dumps(definition), "roleArn": ROLE})[
        "stateMachineArn"
    ]


ok = machine(
    "bench-etl",
    {
        "StartAt": "Extract",
        "States": {
            "Extract": {"Type": "Pass", "Result": {"rows": 100}, "ResultPath": "$.extract", "Next": "Load"},
            "Load": {"Type": "Pass", "End": True},
        },
    },
)
bad = machine(
    "bench-fails",
    {"StartAt": "Try", "States": {"Try": {"Type": "Fail", "Error": "Bench.Failed", "Cause": "on purpose"}}},
)
other = machine("bench-other", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
waits = machine(
    "bench-approval",
    {"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": True}}},
)
# One execution with a history near AWS's quota of 25,000 events: an inline Map of 6,000 items.
long_machine = machine(
    "bench-long-history",
    {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ResultSelector": {"done": True},
                "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    },
)


def start(i):
    if i < 100:
        arn = waits
    elif i % 10 == 0:
        arn = bad
    elif i % 10 == 1:
        arn = other
    else:
        arn = ok
    return api("StartExecution", {"stateMachineArn": arn, "name": f"run-{i:07d}", "input": json.dumps({"i": i})})[
        "executionArn"
    ]


started = time.perf_counter()
done = 0
arns = []
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for arn in pool.map(start, range(args.executions), chunksize=256):
        arns.append(arn)
        done += 1
        if done % 10_000 == 0 or done == args.executions:
            rate = done / (time.perf_counter() - started)
            print(f"\rstarted {done}/{args.executions} ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
print(file=sys.stderr)
long_run = api(
    "StartExecution", {"stateMachineArn": long_machine, "name": "long", "input": json.dumps({"items": list(range(6000))})}
)["executionArn"]
# Let the executions finish (all but the ones waiting for approval).
while True:
    listed = api("ListExecutions", {"stateMachineArn": ok, "statusFilter": "RUNNING", "maxResults": 1})
    if not listed["executions"]:
        break
    time.sleep(0.5)
while api("DescribeExecution", {"executionArn": long_run})["status"] == "RUNNING":
    time.sleep(0.5)

q = urllib.parse.quote
middle = arns[len(arns) // 2]
later = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
first_page = page("/console/executions")[1].decode()
marker = first_page.split("after=")[1].split('"')[0] if "after=" in first_page else ""
pages = {
    "home (machines, latest executions)": "/",
    "machine page (graph, latest 20)": f"/console/state-machine?arn={q(ok)}",
    "executions, first page": "/console/executions",
    "executions, second page": f"/console/executions?after={marker}",
    "executions of one machine": f"/console/executions?machine={q(other)}",
    "executions FAILED": "/console/executions?status=FAILED",
    "executions RUNNING of a machine": f"/console/executions?machine={q(waits)}&status=RUNNING",
    "executions in a time window": f"/console/executions?since={later}",
    "an execution (graph, history)": f"/console/execution?arn={q(middle)}",
    "an execution's live update": f"/console/execution/live?arn={q(middle)}",
    "an execution of 24,000 events": f"/console/execution?arn={q(long_run)}",
    "its live update (every event read)": f"/console/execution/live?arn={q(long_run)}&after=23990",
    "approvals (100 waiting)": "/console/approvals",
    "activities & schedules": "/console/queues",
}
print(f"{args.executions} executions in the store; each page loaded {args.repeat} times")
print(f"{'page':40} {'median ms':>10} {'max ms':>10} {'bytes':>9}")
slowest = ("", 0.0)
for name, path in pages.items():
    times = []
    for _ in range(args.repeat):
        took, body = page(path)
        times.append(took)
    median, worst = statistics.median(times) * 1000, max(times) * 1000
    print(f"{name:40} {median:10.1f} {worst:10.1f} {len(body):9d}")
    if median > slowest[1]:
        slowest = (name, median)
print(f"slowest page: {slowest[0]} ({slowest[1]:.1f} ms median)")
