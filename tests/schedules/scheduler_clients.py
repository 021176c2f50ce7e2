"""The EventBridge Scheduler API of `sluice serve`, driven by boto3's `scheduler` client and
the AWS CLI exactly as against AWS (only the endpoint differs).

    python3 scheduler_clients.py ENDPOINT STATE_MACHINE_ARN

Exits non-zero with a message on the first check that fails; prints a JSON summary.
"""

import json
import os
import subprocess
import sys

import boto3
import botocore.exceptions

endpoint, machine = sys.argv[1], sys.argv[2]
credentials = dict(
    region_name="us-east-1",
    aws_access_key_id="AKIDTEST",
    aws_secret_access_key="secret",
)
scheduler = boto3.client("scheduler", endpoint_url=endpoint, **credentials)
ROLE = "arn:aws:iam::123456789012:role/scheduler"


def expect_error(code, words, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        message = e.response["Error"]["Message"]
        assert got == code, f"{call.__name__}: expected {code}, got {got}: {message}"
        for w in words:
            assert w in message, f"{call.__name__}: {w!r} not in {message!r}"
        return message
    raise AssertionError(f"{call.__name__}({kwargs}) should have failed with {code}")


target = {
    "Arn": machine,
    "RoleArn": ROLE,
    "Input": json.dumps({"when": "<aws.scheduler.scheduled-time>", "by": "<aws.scheduler.schedule-arn>"}),
    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
}
arn = scheduler.create_schedule(
    Name="nightly-etl",
    ScheduleExpression="cron(0 2 * * ? *)",
    ScheduleExpressionTimezone="Europe/Paris",
    FlexibleTimeWindow={"Mode": "OFF"},
    Target=target,
    Description="the nightly load",
)["ScheduleArn"]
assert arn.endswith(":schedule/default/nightly-etl"), arn

got = scheduler.get_schedule(Name="nightly-etl")
assert got["ScheduleExpression"] == "cron(0 2 * * ? *)", got
assert got["ScheduleExpressionTimezone"] == "Europe/Paris", got
assert got["State"] == "ENABLED", got
assert got["Target"]["Arn"] == machine and got["Target"]["Input"] == target["Input"], got
assert got["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2, got
assert got["Description"] == "the nightly load", got
assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}, got

# Bad input: the field and the problem are named.
base = dict(FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": machine, "RoleArn": ROLE})
expect_error("ValidationException", ["ScheduleExpression", "hours", "25"], scheduler.create_schedule,
             Name="bad", ScheduleExpression="cron(0 25 * * ? *)", **base)
expect_error("ValidationException", ["ScheduleExpression", "day-of-month", "day-of-week"], scheduler.create_schedule,
             Name="bad", ScheduleExpression="cron(0 12 * * * *)", **base)
expect_error("ValidationException", ["ScheduleExpressionTimezone", "Mars/Olympus"], scheduler.create_schedule,
             Name="bad", ScheduleExpression="rate(5 minutes)", ScheduleExpressionTimezone="Mars/Olympus", **base)
expect_error("ValidationException", ["Target.Arn", "does not exist"], scheduler.create_schedule,
             Name="bad", ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
             Target={"Arn": machine + "-missing", "RoleArn": ROLE})
expect_error("ValidationException", ["Target.Input"], scheduler.create_schedule,
             Name="bad", ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
             Target={"Arn": machine, "RoleArn": ROLE, "Input": "{not json"})
expect_error("ConflictException", ["nightly-etl"], scheduler.create_schedule,
             Name="nightly-etl", ScheduleExpression="rate(5 minutes)", **base)
expect_error("ResourceNotFoundException", ["missing"], scheduler.get_schedule, Name="missing")

# Pause through UpdateSchedule, in another group too.
scheduler.update_schedule(Name="nightly-etl", ScheduleExpression="cron(30 3 * * ? *)",
                          ScheduleExpressionTimezone="Europe/Paris", State="DISABLED", **base)
paused = scheduler.get_schedule(Name="nightly-etl")
assert paused["State"] == "DISABLED" and paused["ScheduleExpression"] == "cron(30 3 * * ? *)", paused
expect_error("ResourceNotFoundException", ["team-a"], scheduler.create_schedule,
             Name="hourly", GroupName="team-a", ScheduleExpression="rate(1 hour)", **base)
group_arn = scheduler.create_schedule_group(Name="team-a")["ScheduleGroupArn"]
assert group_arn.endswith(":schedule-group/team-a"), group_arn
assert scheduler.get_schedule_group(Name="team-a")["State"] == "ACTIVE"
groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
assert groups == ["default", "team-a"], groups
scheduler.create_schedule(Name="hourly", GroupName="team-a", ScheduleExpression="rate(1 hour)", **base)

# Paging with the paginator the SDK gives, and filters.
for i in range(7):
    scheduler.create_schedule(Name=f"page-{i}", ScheduleExpression="rate(1 day)", State="DISABLED", **base)
pages = scheduler.get_paginator("list_schedules").paginate(PaginationConfig={"PageSize": 3})
names = [s["Name"] for page in pages for s in page["Schedules"]]
assert len(names) == 9 and len(set(names)) == 9, names
in_group = scheduler.list_schedules(GroupName="team-a")["Schedules"]
assert [s["Name"] for s in in_group] == ["hourly"], in_group
prefixed = scheduler.list_schedules(NamePrefix="page-", State="DISABLED")["Schedules"]
assert len(prefixed) == 7, prefixed

# The AWS CLI, unchanged but for --endpoint-url.
env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret", AWS_PAGER="")
env.pop("AWS_PROFILE", None)


def aws(*args):
    out = subprocess.run(["aws", "scheduler", "--endpoint-url", endpoint, "--region", "us-east-1",
                          "--output", "json", *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"aws scheduler {' '.join(args)}: {out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip() else {}


made = aws("create-schedule", "--name", "cli-every-minute", "--schedule-expression", "rate(1 minute)",
           "--flexible-time-window", "Mode=OFF",
           "--target", json.dumps({"Arn": machine, "RoleArn": ROLE, "Input": "{\"from\": \"cli\"}"}))
assert made["ScheduleArn"].endswith("/default/cli-every-minute"), made
shown = aws("get-schedule", "--name", "cli-every-minute")
assert shown["ScheduleExpression"] == "rate(1 minute)", shown
listed = aws("list-schedules", "--name-prefix", "cli-")
assert [s["Name"] for s in listed["Schedules"]] == ["cli-every-minute"], listed
bad = subprocess.run(["aws", "scheduler", "--endpoint-url", endpoint, "--region", "us-east-1", "create-schedule",
                      "--name", "cli-bad", "--schedule-expression", "rate(0 minutes)",
                      "--flexible-time-window", "Mode=OFF", "--target", json.dumps({"Arn": machine, "RoleArn": ROLE})],
                     env=env, capture_output=True, text=True)
assert bad.returncode != 0 and "ValidationException" in bad.stderr and "rate(0 minutes)" in bad.stderr, bad.stderr

for i in range(7):
    scheduler.delete_schedule(Name=f"page-{i}")
scheduler.delete_schedule(Name="hourly", GroupName="team-a")
expect_error("ResourceNotFoundException", ["hourly"], scheduler.delete_schedule, Name="hourly", GroupName="team-a")
scheduler.create_schedule(Name="doomed", GroupName="team-a", ScheduleExpression="rate(1 hour)", **base)
scheduler.delete_schedule_group(Name="team-a")
expect_error("ResourceNotFoundException", ["doomed"], scheduler.get_schedule, Name="doomed", GroupName="team-a")
expect_error("ValidationException", ["default"], scheduler.delete_schedule_group, Name="default")
print(json.dumps({"ok": True, "schedules": [s["Name"] for s in scheduler.list_schedules()["Schedules"]]}))
