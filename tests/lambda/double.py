#!/usr/bin/env python3
"""A Lambda Invoke API test double (standard library only).

Serves `POST /2015-03-31/functions/<name>/invocations` for the trivial functions the
conformance corpus describes (shared/conformance/README.md), so Task states on Lambda
resources run end to end through sluice's aws-sdk-lambda client without AWS:

    id_function             returns its event
    echo_function           returns {"Return": "HelloWorld"}
    return_bytes_str        returns the JSON string "HelloWorld!"
    raise_exception         raises Exception("Some exception was raised.")
    raise_custom_exception  raises CustomException() (no message)
    large_output_string     returns 257 KiB of "a"
    callback_function       answers a `.waitForTaskToken` task: SendTaskSuccess with the
                            event's TaskToken and Output to its Endpoint (a sluice serve)

Any other name is a ResourceNotFoundException, as on AWS. Invoke's options are honoured:
`X-Amz-Invocation-Type: Event` (202, no payload) or `DryRun` (204), `X-Amz-Log-Type: Tail`
(the log's end, base64, in `X-Amz-Log-Result`) and `?Qualifier=N` (a version, reported in
`X-Amz-Executed-Version`). Usage:
    double.py [--port N]     (prints "listening on http://127.0.0.1:N" once ready)
"""

import argparse
import base64
import json
import re
import sys
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "111111111111"


class Raised(Exception):
    def __init__(self, kind, message, line, source):
        super().__init__(message)
        self.kind, self.message, self.line, self.source = kind, message, line, source


def run(name, event):
    if name == "id_function":
        return event
    if name == "echo_function":
        return {"Return": "HelloWorld"}
    if name == "return_bytes_str":
        return "HelloWorld!"
    if name == "raise_exception":
        raise Raised("Exception", "Some exception was raised.", 2,
                     'raise Exception("Some exception was raised.")')
    if name == "raise_custom_exception":
        raise Raised("CustomException", "", 9, "raise CustomException()")
    if name == "large_output_string":
        return "a" * (257 * 1024)
    if name == "callback_function":
        send_task_success(event["Endpoint"], event["TaskToken"], event.get("Output", {}))
        return {"sent": True}
    return KeyError(name)


def send_task_success(endpoint, token, output):
    """The callback a real function makes with its SDK: the JSON protocol, unsigned."""
    body = json.dumps({"taskToken": token, "output": json.dumps(output)}).encode()
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AWSStepFunctions.SendTaskSuccess",
    })
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        m = re.match(r"^/2015-03-31/functions/([^/]+)/invocations", self.path)
        request_id = str(uuid.uuid4())
        if not m:
            self.reply(404, json.dumps({"message": "not found"}), [("x-amzn-ErrorType", "UnknownOperationException")])
            return
        target = urllib.parse.unquote(m.group(1))
        name = target.split(":function:")[-1].split(":")[0]
        try:
            event = json.loads(raw) if raw else None
        except ValueError:
            event = None
        try:
            result = run(name, event)
        except Raised as e:
            body = compact({
                "errorMessage": e.message,
                "errorType": e.kind,
                "requestId": request_id,
                "stackTrace": ['  File "/var/task/handler.py", line %d, in handler\n    %s\n' % (e.line, e.source)],
            })
            self.reply(200, body, [("X-Amz-Function-Error", "Unhandled"), ("X-Amz-Executed-Version", "$LATEST"),
                                   ("x-amzn-RequestId", request_id)])
            return
        if isinstance(result, KeyError):
            arn = "arn:aws:lambda:us-east-1:%s:function:%s:$LATEST" % (ACCOUNT, name)
            self.reply(404, json.dumps({"Type": "User", "message": "Function not found: " + arn}),
                       [("x-amzn-ErrorType", "ResourceNotFoundException"), ("x-amzn-RequestId", request_id)])
            return
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        qualifier = (query.get("Qualifier") or ["$LATEST"])[0]
        version = qualifier if qualifier.isdigit() else "$LATEST"
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind == "Event":
            self.reply(202, "", [("x-amzn-RequestId", request_id)])
            return
        if kind == "DryRun":
            self.reply(204, "", [("x-amzn-RequestId", request_id)])
            return
        headers = [("X-Amz-Executed-Version", version), ("x-amzn-RequestId", request_id)]
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            log = "START RequestId: %s Version: %s\nEND RequestId: %s\n" % (request_id, version, request_id)
            headers.append(("X-Amz-Log-Result", base64.b64encode(log.encode()).decode()))
        self.reply(200, json.dumps(result), headers)


def compact(value):
    """Error payloads come back as compact JSON, as the Lambda runtime writes them."""
    return json.dumps(value, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
