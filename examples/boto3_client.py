#!/usr/bin/env python3
"""Drive `sluice serve` with boto3, exactly as you would drive AWS Step Functions.

    sluice serve --store sqlite::memory: --listen 127.0.0.1:8083
    python3 examples/boto3_client.py --endpoint http://127.0.0.1:8083

Creates a state machine (Pass -> Choice -> Wait 1 s -> Succeed), runs it once, prints the
output and the history, and lists the executions. Exits non-zero when something differs
from what AWS would return, so CI can run it as a regression check.
"""
import argparse
import json
import os
import sys
import time
import uuid

import boto3

DEFINITION = {
    "Comment": "Tag an order, branch on its size, and wait a second for big ones.",
    "StartAt": "Tag",
    "States": {
        "Tag": {
            "Type": "Pass",
            "Parameters": {"order.$": "$.order", "items.$": "$.items", "source": "sluice-example"},
            "Next": "IsBig",
        },
        "IsBig": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.items", "NumericGreaterThan": 10, "Next": "Settle"}],
            "Default": "Done",
        },
        # A real timer: the execution stays RUNNING for about a second, which is what the
        # polling loop below is for.
        "Settle": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
INPUT = {"order": "A-17", "items": 12}
EXPECTED_OUTPUT = {"order": "A-17", "items": 12, "source": "sluice-example"}


def client(endpoint):
    # sluice accepts any signature unless started with --auth, but botocore refuses to
    # send a request without credentials, so fall back to dummy ones.
    creds = {}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        creds = {"aws_access_key_id": "sluice", "aws_secret_access_key": "sluice"}
    return boto3.client("stepfunctions", endpoint_url=endpoint,
                        region_name=os.environ.get("AWS_REGION", "us-east-1"), **creds)


def check(condition, message):
    if not condition:
        sys.exit(f"boto3_client: FAILED: {message}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint",
                        default=os.environ.get("SLUICE_ENDPOINT", "http://127.0.0.1:8083"))
    args = parser.parse_args()
    sfn = client(args.endpoint)

    # A unique name lets the script run repeatedly against a server with a durable store.
    name = f"example-{uuid.uuid4().hex[:8]}"
    machine_arn = sfn.create_state_machine(
        name=name,
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/sluice",  # required by the API, unused by sluice
    )["stateMachineArn"]
    print("state machine:", machine_arn)

    execution_arn = sfn.start_execution(
        stateMachineArn=machine_arn, name="first-run", input=json.dumps(INPUT)
    )["executionArn"]
    print("execution:   ", execution_arn)

    # Standard executions are asynchronous: StartExecution returns at once.
    deadline = time.monotonic() + 30
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            break
        check(time.monotonic() < deadline, "execution still RUNNING after 30 s")
        time.sleep(0.25)

    print("status:      ", execution["status"])
    check(execution["status"] == "SUCCEEDED", f"status {execution['status']}: {execution}")
    output = json.loads(execution["output"])
    print("output:      ", json.dumps(output))
    check(output == EXPECTED_OUTPUT, f"output {output} != {EXPECTED_OUTPUT}")

    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    types = [event["type"] for event in events]
    print("history:     ", " ".join(types))
    check(types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded",
          f"history bounds {types}")
    check("WaitStateEntered" in types, "the Choice did not take the Wait branch")

    listed = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    print("executions:  ", [(e["name"], e["status"]) for e in listed])
    check([e["executionArn"] for e in listed] == [execution_arn], f"list_executions {listed}")

    print("boto3_client: ok")


if __name__ == "__main__":
    main()
