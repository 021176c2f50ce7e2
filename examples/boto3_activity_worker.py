#!/usr/bin/env python3
"""An activity worker written with boto3 alone, run against `sluice serve`.

    sluice serve --store sqlite::memory: --listen 127.0.0.1:8083
    python3 examples/boto3_activity_worker.py --endpoint http://127.0.0.1:8083

Nothing here is sluice-specific: the same loop (GetActivityTask, SendTaskHeartbeat,
SendTaskSuccess/SendTaskFailure) works against AWS Step Functions. The script plays both
sides: it starts an execution whose Task waits on the activity, then works that task itself.
The second execution shows a worker's failure being caught by the state machine's Catch.
"""
import argparse
import json
import os
import sys
import time
import uuid

import boto3
from botocore.config import Config


def client(endpoint):
    # sluice accepts any signature unless started with --auth, but botocore refuses to
    # send a request without credentials, so fall back to dummy ones.
    creds = {}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        creds = {"aws_access_key_id": "sluice", "aws_secret_access_key": "sluice"}
    # GetActivityTask long-polls for up to 60 s; botocore's default 60 s read timeout
    # would cut it off just before an empty answer arrives.
    config = Config(read_timeout=70, retries={"max_attempts": 2})
    return boto3.client("stepfunctions", endpoint_url=endpoint, config=config,
                        region_name=os.environ.get("AWS_REGION", "us-east-1"), **creds)


def check(condition, message):
    if not condition:
        sys.exit(f"boto3_activity_worker: FAILED: {message}")


def definition(activity_arn):
    return {
        "StartAt": "Upper",
        "States": {
            "Upper": {
                "Type": "Task",
                "Resource": activity_arn,
                # A worker that goes silent for longer than this loses the task
                # (States.Timeout), which a Retry could hand to another worker.
                "HeartbeatSeconds": 30,
                "TimeoutSeconds": 120,
                "ResultPath": "$.upper",
                "Catch": [{"ErrorEquals": ["Example.EmptyName"], "ResultPath": "$.error",
                           "Next": "Rejected"}],
                "End": True,
            },
            "Rejected": {"Type": "Pass", "End": True},
        },
    }


def work_one_task(sfn, activity_arn):
    """What a worker process does in its main loop, for one task."""
    while True:
        task = sfn.get_activity_task(activityArn=activity_arn, workerName="boto3-example")
        # An empty token means the long poll ended with no work; ask again.
        if task.get("taskToken"):
            break
    token, task_input = task["taskToken"], json.loads(task["input"])
    print("  got task with input", json.dumps(task_input))

    # Long jobs heartbeat so the orchestrator knows the worker is alive (HeartbeatSeconds).
    sfn.send_task_heartbeat(taskToken=token)

    name = task_input.get("name", "")
    if not name:
        # The error name is what the state machine's Retry/Catch match on.
        sfn.send_task_failure(taskToken=token, error="Example.EmptyName", cause="name is empty")
        print("  sent failure Example.EmptyName")
    else:
        sfn.send_task_success(taskToken=token, output=json.dumps(name.upper()))
        print("  sent success", json.dumps(name.upper()))


def wait_for(sfn, execution_arn):
    deadline = time.monotonic() + 30
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        check(time.monotonic() < deadline, "execution still RUNNING after 30 s")
        time.sleep(0.25)


def run_case(sfn, machine_arn, activity_arn, case_input, expected_output):
    execution_arn = sfn.start_execution(
        stateMachineArn=machine_arn, input=json.dumps(case_input)
    )["executionArn"]
    print("execution", execution_arn)
    work_one_task(sfn, activity_arn)
    execution = wait_for(sfn, execution_arn)
    # Catch turns the worker's failure into a normal transition, so both cases succeed.
    check(execution["status"] == "SUCCEEDED", f"status {execution['status']}: {execution}")
    output = json.loads(execution["output"])
    print("  output", json.dumps(output))
    check(output == expected_output, f"output {output} != {expected_output}")

    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]]
    print("  history", " ".join(types))
    check("ActivityStarted" in types, f"no ActivityStarted in {types}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint",
                        default=os.environ.get("SLUICE_ENDPOINT", "http://127.0.0.1:8083"))
    args = parser.parse_args()
    sfn = client(args.endpoint)

    # A unique name keeps repeated runs against a durable store from sharing a queue.
    suffix = uuid.uuid4().hex[:8]
    activity_arn = sfn.create_activity(name=f"upper-{suffix}")["activityArn"]
    print("activity", activity_arn)
    machine_arn = sfn.create_state_machine(
        name=f"activity-example-{suffix}",
        definition=json.dumps(definition(activity_arn)),
        roleArn="arn:aws:iam::123456789012:role/sluice",  # required by the API, unused by sluice
    )["stateMachineArn"]
    print("state machine", machine_arn)

    run_case(sfn, machine_arn, activity_arn, {"name": "ada"}, {"name": "ada", "upper": "ADA"})
    run_case(sfn, machine_arn, activity_arn, {"name": ""},
             {"name": "", "error": {"Error": "Example.EmptyName", "Cause": "name is empty"}})

    print("boto3_activity_worker: ok")


if __name__ == "__main__":
    main()
