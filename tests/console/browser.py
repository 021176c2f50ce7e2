#!/usr/bin/env python3
"""The console in headless Chromium, driven by Selenium, against a running `sluice serve`.

Sets up real work with boto3 (state machines, activities, executions, a schedule), then
uses the console as a person would: every page loads without a browser console error; the
execution page of a run with a caught failure paints the right states in the right colours;
Approve and Reject on waiting tasks finish their executions; Redrive restarts a failed
execution and its page follows it live to the end; Stop aborts a running one; a Map Run shows
its progress and its failure. Screenshots of each page go to --screenshots.

Usage: browser.py ENDPOINT SCREENSHOT_DIR
"""

import json
import os
import sys
import tempfile
import time

import boto3
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

ENDPOINT, SHOTS = sys.argv[1], sys.argv[2]
os.makedirs(SHOTS, exist_ok=True)
ROLE = "arn:aws:iam::123456789012:role/sluice"
AWS = dict(
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
sfn = boto3.client("stepfunctions", **AWS)

# What the console paints each status with (console.css), as Chromium computes it.
FILL = {
    "succeeded": "rgb(223, 243, 228)",
    "failed": "rgb(251, 227, 224)",
    "caught": "rgb(253, 240, 213)",
    "running": "rgb(220, 234, 250)",
    "aborted": "rgb(229, 232, 235)",
    "unreached": "rgb(250, 251, 252)",
}


def wait_for(what, check, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        try:
            value = check()
        except WebDriverException:
            # The page reloaded itself (a live page at the end of its execution) under us:
            # stale elements, nodes no longer in the document. Look again.
            value = None
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def machine(name, definition):
    return sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def start(arn, name, payload):
    return sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]


def status(execution):
    return sfn.describe_execution(executionArn=execution)["status"]


def ended(execution, timeout=30.0):
    return wait_for(
        f"{execution} to end",
        lambda: (s := status(execution)) != "RUNNING" and s,
        timeout,
    )


def activity_task(activity):
    task = sfn.get_activity_task(activityArn=activity, workerName="test")
    assert task.get("taskToken"), f"no task on {activity}"
    return task


# ---- the work the console will show -------------------------------------------------------
review = sfn.create_activity(name="review")["activityArn"]
flaky = sfn.create_activity(name="flaky-work")["activityArn"]

approvals = machine(
    "document-review",
    {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"doc": "q3-report.pdf"}, "ResultPath": "$.doc", "Next": "Review"},
            "Review": {
                "Type": "Task",
                "Resource": review,
                "ResultPath": "$.review",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.rejection", "Next": "Rejected"}],
                "Next": "Publish",
            },
            "Publish": {"Type": "Pass", "End": True},
            "Rejected": {"Type": "Pass", "End": True},
        },
    },
)
etl = machine(
    "nightly-etl",
    {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.rows", "NumericGreaterThan": 0, "Next": "Load"}],
                "Default": "Skip",
            },
            "Skip": {"Type": "Succeed"},
            "Load": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Copy", "States": {"Copy": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Reject", "States": {"Reject": {"Type": "Fail", "Error": "Data.Invalid", "Cause": "row 17 has no id"}}},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Quarantine"}],
                "Next": "Report",
            },
            "Quarantine": {"Type": "Pass", "Next": "Report"},
            "Report": {"Type": "Pass", "End": True},
        },
    },
)
retrying = machine(
    "flaky-import",
    {
        "StartAt": "Import",
        "States": {
            "Import": {"Type": "Task", "Resource": flaky, "Next": "Finish"},
            "Finish": {"Type": "Pass", "End": True},
        },
    },
)
waiting = machine(
    "long-wait",
    {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 600, "End": True}}},
)
fanout = machine(
    "fan-out",
    {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ToleratedFailureCount": 3,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Lucky",
                    "States": {
                        "Lucky": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 13, "Next": "Unlucky"}],
                            "Default": "Work",
                        },
                        "Work": {"Type": "Pass", "End": True},
                        "Unlucky": {"Type": "Fail", "Error": "Item.Unlucky", "Cause": "13 is never processed"},
                    },
                },
                "End": True,
            }
        },
    },
)

caught_run = start(etl, "caught-1", {"rows": 42})
assert ended(caught_run) == "SUCCEEDED"
approve_run = start(approvals, "approve-me", {"id": 1})
reject_run = start(approvals, "reject-me", {"id": 2})
fanout_run = start(fanout, "fan-out-1", {"items": list(range(1, 31))})
assert ended(fanout_run, 60) == "SUCCEEDED", sfn.describe_execution(executionArn=fanout_run)
wait_run = start(waiting, "waits-forever", {})
flaky_run = start(retrying, "import-1", {"file": "orders.csv"})
failing = activity_task(flaky)
sfn.send_task_failure(taskToken=failing["taskToken"], error="Import.Timeout", cause="the source did not answer")
assert ended(flaky_run) == "FAILED"
boto3.client("scheduler", **AWS).create_schedule(
    Name="nightly",
    ScheduleExpression="cron(0 2 * * ? *)",
    ScheduleExpressionTimezone="Europe/Paris",
    FlexibleTimeWindow={"Mode": "OFF"},
    Target={"Arn": etl, "RoleArn": ROLE, "Input": json.dumps({"rows": 1})},
)

# ---- the browser ----------------------------------------------------------------------------
options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for flag in [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1400,1000",
    f"--user-data-dir={tempfile.mkdtemp(prefix='sluice-chromium-')}",
]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(
    service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options
)
driver.implicitly_wait(0)
pages = []


def console_errors():
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def visit(path, shot):
    driver.get(ENDPOINT + path)
    wait_for(f"{path} to load", lambda: driver.execute_script("return document.readyState") == "complete")
    loaded(shot)


def loaded(shot):
    errors = console_errors()
    assert not errors, f"browser console errors on {driver.current_url}: {errors}"
    assert driver.find_elements(By.CSS_SELECTOR, "header.top"), driver.page_source[:500]
    driver.save_screenshot(os.path.join(SHOTS, f"{shot}.png"))
    pages.append(shot)


def q(value):
    from urllib.parse import quote

    return quote(value, safe="")


def painted(name):
    """A state's status class and its box's computed fill."""
    group = driver.find_element(By.CSS_SELECTOR, f'#graph g[data-name="{name}"]')
    classes = group.get_attribute("class").split()
    rect = group.find_element(By.TAG_NAME, "rect")
    return classes, driver.execute_script("return getComputedStyle(arguments[0]).fill", rect)


def expect_colours(expected):
    for name, want in expected.items():
        classes, fill = painted(name)
        assert want in classes, f"{name}: {classes}, wanted {want}"
        if "state" in classes:
            assert fill == FILL[want], f"{name}: fill {fill}, wanted {FILL[want]} ({want})"


def status_text():
    # Read in one script call: the page may be reloading itself.
    return driver.execute_script(
        "const s = document.getElementById('status'); return s ? s.textContent.trim() : '';"
    )


try:
    visit("/", "home")
    assert "document-review" in driver.page_source and "nightly-etl" in driver.page_source

    visit(f"/console/state-machine?arn={q(etl)}", "state-machine")
    assert driver.find_elements(By.CSS_SELECTOR, "#graph svg") or driver.find_elements(By.CSS_SELECTOR, ".graph svg")
    assert "No problems" in driver.page_source
    edges = driver.find_elements(By.CSS_SELECTOR, ".graph .edge.Catch")
    assert edges, "the Catch edge is drawn"
    assert driver.find_elements(By.CSS_SELECTOR, ".graph .edge.Default")

    # Start an execution from the machine's page.
    driver.find_element(By.NAME, "name").send_keys("from-console")
    box = driver.find_element(By.NAME, "input")
    box.clear()
    box.send_keys('{"rows": 0}')
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for("the new execution's page", lambda: "from-console" in driver.title)
    wait_for("it to finish", lambda: "SUCCEEDED" in status_text(), 20)
    loaded("started-from-console")
    expect_colours({"Check": "succeeded", "Skip": "succeeded", "Load": "unreached"})

    # The caught failure: each state in its colour.
    visit(f"/console/execution?arn={q(caught_run)}", "execution-caught")
    expect_colours(
        {
            "Check": "succeeded",
            "Skip": "unreached",
            "Load": "caught",
            "Copy": "succeeded",
            "Reject": "failed",
            "Quarantine": "succeeded",
            "Report": "succeeded",
        }
    )
    # A state's input and output on click.
    driver.find_element(By.CSS_SELECTOR, '#graph g[data-name="Quarantine"]').click()
    panel = driver.find_element(By.CSS_SELECTOR, "#state-panel")
    wait_for("the state panel", lambda: "Quarantine" in panel.text)
    assert "Data.Invalid" in panel.find_element(By.CSS_SELECTOR, ".state-input").text
    driver.find_element(By.CSS_SELECTOR, '#graph g[data-name="Reject"]').click()
    wait_for("the failure in the panel", lambda: "row 17 has no id" in panel.text)
    driver.save_screenshot(os.path.join(SHOTS, "execution-caught-clicked.png"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#history tr")) >= 10

    # Approvals: approve one, reject the other.
    def two_waiting():
        driver.get(ENDPOINT + "/console/approvals")
        return len(driver.find_elements(By.CSS_SELECTOR, "section.task")) == 2

    wait_for("both review tasks on the approvals page", two_waiting)
    loaded("approvals")

    def task_for(execution_name):
        for section in driver.find_elements(By.CSS_SELECTOR, "section.task"):
            if execution_name in section.find_element(By.TAG_NAME, "h3").text:
                return section
        raise AssertionError(f"no task for {execution_name}")

    section = task_for("approve-me")
    output = section.find_element(By.NAME, "output")
    output.clear()
    output.send_keys('{"approved": true, "by": "ana"}')
    section.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait_for("the approvals page again", lambda: len(driver.find_elements(By.CSS_SELECTOR, "section.task")) == 1)
    assert ended(approve_run) == "SUCCEEDED"
    out = json.loads(sfn.describe_execution(executionArn=approve_run)["output"])
    assert out["review"] == {"approved": True, "by": "ana"}, out

    section = task_for("reject-me")
    section.find_element(By.NAME, "error").clear()
    section.find_element(By.NAME, "error").send_keys("Review.Rejected")
    section.find_element(By.NAME, "cause").send_keys("figures do not add up")
    section.find_element(By.CSS_SELECTOR, "button.reject").click()
    wait_for("no task left", lambda: "Nothing is waiting" in driver.page_source)
    loaded("approvals-done")
    assert ended(reject_run) == "SUCCEEDED"
    visit(f"/console/execution?arn={q(reject_run)}", "execution-rejected")
    expect_colours({"Prepare": "succeeded", "Review": "caught", "Rejected": "succeeded", "Publish": "unreached"})
    visit(f"/console/execution?arn={q(approve_run)}", "execution-approved")
    expect_colours({"Review": "succeeded", "Publish": "succeeded", "Rejected": "unreached"})

    # Redrive a failed execution; its page follows the rerun live.
    visit(f"/console/execution?arn={q(flaky_run)}", "execution-failed")
    expect_colours({"Import": "failed", "Finish": "unreached"})
    assert "Import.Timeout" in driver.find_element(By.CSS_SELECTOR, "#failure").text
    driver.find_element(By.CSS_SELECTOR, "#redrive").click()
    wait_for("the redriven execution running", lambda: "RUNNING" in status_text())
    loaded("execution-redriven")
    assert driver.find_elements(By.CSS_SELECTOR, "#live")
    expect_colours({"Import": "running"})
    retry = activity_task(flaky)
    sfn.send_task_success(taskToken=retry["taskToken"], output=json.dumps({"imported": 1200}))
    # No reload from the test: the page updates itself.
    wait_for("the page to show the end", lambda: "SUCCEEDED" in status_text(), 20)
    expect_colours({"Import": "succeeded", "Finish": "succeeded"})
    assert "1200" in driver.find_element(By.CSS_SELECTOR, "#output").text
    loaded("execution-redrive-succeeded")
    assert status(flaky_run) == "SUCCEEDED"

    # Stop a running execution.
    visit(f"/console/execution?arn={q(wait_run)}", "execution-running")
    expect_colours({"Sleep": "running"})
    driver.find_element(By.CSS_SELECTOR, "form[action='/console/stop'] input[name=cause]").send_keys("not needed today")
    driver.find_element(By.CSS_SELECTOR, "#stop").click()
    wait_for("the stopped execution", lambda: "ABORTED" in status_text())
    expect_colours({"Sleep": "aborted"})
    assert status(wait_run) == "ABORTED"

    # The Map Run: progress, the failure and its cause, the children.
    visit(f"/console/execution?arn={q(fanout_run)}", "execution-map")
    driver.find_element(By.CSS_SELECTOR, "a[href^='/console/map-run?']").click()
    wait_for("the Map Run page", lambda: driver.find_elements(By.CSS_SELECTOR, "#map-run"))
    loaded("map-run")
    assert driver.find_element(By.CSS_SELECTOR, "#items-succeeded").text == "29"
    assert driver.find_element(By.CSS_SELECTOR, "#items-failed").text == "1"
    assert "13 is never processed" in driver.page_source
    child = driver.find_element(By.CSS_SELECTOR, "tr.failure a")
    child.click()
    wait_for("a child's page", lambda: driver.find_elements(By.CSS_SELECTOR, "#execution"))
    loaded("map-run-child")
    expect_colours({"Lucky": "succeeded", "Unlucky": "failed", "Work": "unreached"})

    # Lists and filters.
    visit(f"/console/executions?status=FAILED", "executions-failed")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.executions tbody tr")
    assert rows and all("FAILED" in r.text for r in rows), [r.text for r in rows]
    visit(f"/console/executions?machine={q(approvals)}", "executions-of-machine")
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.executions tbody tr")) == 2
    visit("/console/executions?since=not-a-time", "executions-bad-filter")
    assert "since: 'not-a-time' is not a time" in driver.page_source

    visit("/console/queues", "queues")
    assert "nightly" in driver.page_source and "cron(0 2 * * ? *)" in driver.page_source
    assert "flaky-work" in driver.page_source

    # A broken definition is drawn with its problem on the state that has it.
    visit("/console/check", "check")
    driver.find_element(By.NAME, "definition").send_keys(
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    )
    driver.find_element(By.CSS_SELECTOR, "form.card button").click()
    wait_for("the problems", lambda: "MISSING_TRANSITION_TARGET" in driver.page_source)
    loaded("check-problem")
    group = driver.find_element(By.CSS_SELECTOR, '.graph g[data-name="A"]')
    assert "problem" in group.get_attribute("class").split()

    # The screenshot the README shows: the caught failure, its failed state clicked.
    visit(f"/console/execution?arn={q(caught_run)}", "execution-caught-again")
    driver.find_element(By.CSS_SELECTOR, '#graph g[data-name="Reject"]').click()
    wait_for("the failure in the panel", lambda: "row 17 has no id" in driver.find_element(By.CSS_SELECTOR, "#state-panel").text)
    driver.save_screenshot(os.path.join(SHOTS, "execution.png"))
finally:
    driver.quit()

print(f"console ok: {len(pages)} pages loaded without console errors: {', '.join(pages)}")
