#!/usr/bin/env python3
"""An AWS Batch API test double (standard library only).

No local Batch server runs containers, so this serves just enough of the Batch REST API
(restJson1, camelCase bodies) for aws-sdk-batch to drive `batch:submitJob` and
`batch:submitJob.sync` Task states end to end through sluice without AWS:

    POST /v1/submitjob     {"jobName", "jobQueue", "jobDefinition", ...}
                           -> {"jobArn", "jobName", "jobId"}; a missing or empty jobName,
                           jobQueue or jobDefinition is a 400 ClientException
    POST /v1/describejobs  {"jobs": [id or arn, ...]} -> {"jobs": [JobDetail, ...]};
                           unknown ids are left out, as AWS does
    POST /v1/terminatejob  {"jobId", "reason"} -> {}; the job ends FAILED with that reason
    GET  /_requests        every SubmitJob request body received, in order (for tests)
    GET  /_terminated      every TerminateJob request body received, in order (for tests)

Nothing runs: a job's status follows from its age, worked out on each DescribeJobs.
It is SUBMITTED, then RUNNABLE, then RUNNING, then finished; each step lasts
BATCH_DOUBLE_STEP_SECONDS (default 0.1), so a job finishes after about 0.3 s. A job whose
containerOverrides.command has a word containing "fail" ends FAILED with exit code 1;
any other job ends SUCCEEDED with exit code 0. Like AWS, finished jobs have the
statusReason "Essential container in task exited", and startedAt appears only once a job
is RUNNING.

Any other path is a 404 with an AWS-style error. Usage:
    double.py [--port N]     (prints "listening on http://127.0.0.1:N" once ready)
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
STEP_SECONDS = float(os.environ.get("BATCH_DOUBLE_STEP_SECONDS") or 0.1)
ESSENTIAL_EXITED = "Essential container in task exited"

LOCK = threading.Lock()
JOBS = {}       # jobId -> job record (see submit_job)
REQUESTS = []   # SubmitJob request bodies, in arrival order
TERMINATED = [] # TerminateJob request bodies, in arrival order


class ClientError(Exception):
    """A 400 ClientException, Batch's error for a bad request."""


def arn(kind, name):
    return name if name.startswith("arn:") else "arn:aws:batch:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


def submit_job(body):
    for field in ("jobName", "jobQueue", "jobDefinition"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise ClientError("%s is required and must be a non-empty string." % field)
    definition = body["jobDefinition"]
    if not definition.startswith("arn:") and ":" not in definition:
        definition += ":1"  # a bare name means the latest revision
    overrides = body.get("containerOverrides") or {}
    command = overrides.get("command") or ["echo", "hello"]
    job_id = str(uuid.uuid4())
    job = {
        "id": job_id,
        "created": time.time(),
        "request": body,
        "definition": arn("job-definition", definition),
        "command": command,
        "fails": any("fail" in str(word) for word in command),
    }
    with LOCK:
        JOBS[job_id] = job
    return {"jobArn": arn("job", job_id), "jobName": body["jobName"], "jobId": job_id}


def terminate_job(body):
    job_id, reason = body.get("jobId"), body.get("reason")
    if not isinstance(job_id, str) or not isinstance(reason, str):
        raise ClientError("jobId and reason are required strings.")
    with LOCK:
        job = JOBS.get(job_id.rsplit("/", 1)[-1])
        if job is None:
            raise ClientError("Job %s not found." % job_id)
        job.setdefault("terminated", reason)
    return {}


def detail(job):
    """The job as DescribeJobs reports it at this moment."""
    body, created, step = job["request"], job["created"], STEP_SECONDS
    age = time.time() - created
    millis = lambda seconds: int(seconds * 1000)
    status = ["SUBMITTED", "RUNNABLE", "RUNNING"][int(age / step)] if age < 3 * step else \
        ("FAILED" if job["fails"] else "SUCCEEDED")
    if "terminated" in job:
        status = "FAILED"
    overrides = body.get("containerOverrides") or {}
    container = {
        "image": "public.ecr.aws/docker/library/busybox:latest",
        "command": job["command"],
        "environment": overrides.get("environment") or [],
        "resourceRequirements": overrides.get("resourceRequirements") or [],
        "mountPoints": [],
        "volumes": [],
        "ulimits": [],
        "networkInterfaces": [],
    }
    out = {
        "jobArn": arn("job", job["id"]),
        "jobName": body["jobName"],
        "jobId": job["id"],
        "jobQueue": arn("job-queue", body["jobQueue"]),
        "status": status,
        "attempts": [],
        "createdAt": millis(created),
        "dependsOn": body.get("dependsOn") or [],
        "jobDefinition": job["definition"],
        "parameters": body.get("parameters") or {},
        "container": container,
    }
    for field in ("retryStrategy", "timeout", "tags", "propagateTags", "shareIdentifier"):
        if field in body:
            out[field] = body[field]
    if status in ("RUNNING", "SUCCEEDED", "FAILED"):
        out["startedAt"] = millis(created + 2 * step)
        container["taskArn"] = "arn:aws:ecs:%s:%s:task/%s" % (REGION, ACCOUNT, job["id"])
        container["logStreamName"] = "double/default/%s" % job["id"]
    if status in ("SUCCEEDED", "FAILED"):
        exit_code = 1 if job["fails"] else 0
        out["stoppedAt"] = millis(created + 3 * step)
        out["statusReason"] = ESSENTIAL_EXITED
        container["exitCode"] = exit_code
        out["attempts"] = [{
            "container": {"exitCode": exit_code, "taskArn": container["taskArn"],
                          "logStreamName": container["logStreamName"], "networkInterfaces": []},
            "startedAt": out["startedAt"],
            "stoppedAt": out["stoppedAt"],
            "statusReason": ESSENTIAL_EXITED,
        }]
    return out


def describe_jobs(body):
    wanted = body.get("jobs")
    if not isinstance(wanted, list) or not all(isinstance(j, str) for j in wanted):
        raise ClientError("jobs must be a list of job IDs.")
    with LOCK:
        found = [JOBS.get(j.rsplit("/", 1)[-1]) for j in wanted]
    return {"jobs": [detail(job) for job in found if job is not None]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status, value, error_type=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, error_type, message):
        self.reply(status, {"__type": error_type, "message": message}, error_type)

    def not_found(self):
        self.error(404, "UnknownOperationException", "No operation at %s %s" % (self.command, self.path))

    def do_GET(self):
        logs = {"/_requests": REQUESTS, "/_terminated": TERMINATED}
        log = logs.get(self.path.split("?")[0])
        if log is None:
            return self.not_found()
        with LOCK:
            self.reply(200, list(log))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0].rstrip("/")
        operation = {"/v1/submitjob": submit_job, "/v1/describejobs": describe_jobs,
                     "/v1/terminatejob": terminate_job}.get(path)
        if operation is None:
            return self.not_found()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self.error(400, "ClientException", "The request body is not valid JSON.")
        if operation is submit_job:
            with LOCK:
                REQUESTS.append(body)
        if operation is terminate_job:
            with LOCK:
                TERMINATED.append(body)
        try:
            if not isinstance(body, dict):
                raise ClientError("The request body must be a JSON object.")
            self.reply(200, operation(body))
        except ClientError as e:
            self.error(400, "ClientException", str(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
