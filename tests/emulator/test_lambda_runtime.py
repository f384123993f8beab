"""Python Lambda functions run in-process: lambda.invoke (RequestResponse, Event), S3 code, errors."""

from __future__ import annotations

import base64
import io
import json
import logging
import textwrap
import time
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamflix_dr_emulator import lambda_runtime, regional_state

REGION = "us-east-1"

HANDLER = textwrap.dedent(
    """
    import os

    import boto3

    from helper import shout


    def handler(event, context):
        if event.get("boom"):
            raise RuntimeError("exploded on purpose")
        if event.get("mark"):
            boto3.client("ssm").put_parameter(Name=event["mark"], Value="ran", Type="String", Overwrite=True)
        print("log line from the handler")
        return {
            "echo": shout(event.get("text", "")),
            "region": os.environ["AWS_REGION"],
            "stage": os.environ.get("STAGE"),
            "function": context.function_name,
        }
    """
)


def package(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


@pytest.fixture
def role(factory: Any) -> str:
    iam = factory.client("iam", REGION)
    name = f"fn-{uuid.uuid4().hex[:8]}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"])


@pytest.fixture
def function(factory: Any, role: str) -> str:
    """A python3.12 function whose code (two modules) is a zip in an S3 bucket."""
    s3 = factory.client("s3", REGION)
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="fn.zip",
        Body=package({"app.py": HANDLER, "helper.py": "def shout(s):\n    return s.upper()\n"}),
    )
    name = f"failover-{uuid.uuid4().hex[:8]}"
    factory.client("lambda", REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "fn.zip"},
        Environment={"Variables": {"STAGE": "drill"}},
        Timeout=30,
    )
    return name


def test_request_response_returns_the_handler_result(factory: Any, function: str) -> None:
    resp = factory.client("lambda", REGION).invoke(
        FunctionName=function, Payload=json.dumps({"text": "go"}), LogType="Tail"
    )
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    body = json.loads(resp["Payload"].read())
    assert body == {"echo": "GO", "region": REGION, "stage": "drill", "function": function}


def test_handler_exception_is_a_function_error(factory: Any, function: str) -> None:
    resp = factory.client("lambda", REGION).invoke(FunctionName=function, Payload=json.dumps({"boom": True}))
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "RuntimeError"
    assert body["errorMessage"] == "exploded on purpose"


def test_event_invocation_runs_in_the_background_against_the_emulator(factory: Any, function: str) -> None:
    mark = f"/drill/{uuid.uuid4().hex[:8]}"
    resp = factory.client("lambda", REGION).invoke(
        FunctionName=function, InvocationType="Event", Payload=json.dumps({"mark": mark})
    )
    assert resp["StatusCode"] == 202
    ssm = factory.client("ssm", REGION)
    deadline = time.monotonic() + 10
    value = None
    while time.monotonic() < deadline:
        try:
            value = ssm.get_parameter(Name=mark)["Parameter"]["Value"]
            break
        except ClientError:
            time.sleep(0.05)
    assert value == "ran"  # the handler's own boto3 call reached the emulator


def test_non_python_runtime_is_refused(factory: Any, role: str) -> None:
    lam = factory.client("lambda", REGION)
    name = f"node-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": package({"index.js": "exports.handler = async () => 1;"})},
    )
    for invocation_type in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as err:
            lam.invoke(FunctionName=name, InvocationType=invocation_type, Payload=b"{}")
        assert err.value.response["Error"]["Code"] == "InvalidRuntimeException"
        assert "nodejs20.x" in err.value.response["Error"]["Message"]


def test_two_functions_with_the_same_module_name_stay_apart(factory: Any, role: str) -> None:
    lam = factory.client("lambda", REGION)
    names = []
    for answer in ("first", "second"):
        name = f"idx-{answer}-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": package({"index.py": f"def handler(e, c):\n    return {answer!r}\n"})},
        )
        names.append(name)
    results = [json.loads(lam.invoke(FunctionName=n)["Payload"].read()) for n in names + names[:1]]
    assert results == ["first", "second", "first"]


def test_cfnresponse_shim_records_what_the_handler_sends() -> None:
    recorder: list[lambda_runtime.CfnResponse] = []
    shim = lambda_runtime._cfnresponse_shim(recorder)

    class Ctx:
        log_stream_name = "2026/11/25/[$LATEST]abc"

    shim.send({"RequestType": "Create"}, Ctx(), shim.SUCCESS, {"A": "1"})
    shim.send({}, Ctx(), shim.FAILED, None, "phys", reason="nope")
    assert recorder[0] == lambda_runtime.CfnResponse(
        "SUCCESS", {"A": "1"}, "2026/11/25/[$LATEST]abc", recorder[0].reason
    )
    assert recorder[1].status == "FAILED"
    assert (recorder[1].physical_resource_id, recorder[1].reason) == ("phys", "nope")


def test_handler_sleep_is_fast_forwarded_and_leaves_the_emulated_clock(factory: Any, role: str) -> None:
    # The handler's own ``time.sleep`` is the runtime's stand-in (it returns at once); which function it
    # is, not how long the call took, is what the test checks.
    code = (
        "import time\n\ndef handler(e, c):\n    time.sleep(30)\n"
        "    return [time.sleep.__module__, time.sleep.__name__]\n"
    )
    lam = factory.client("lambda", REGION)
    name = f"sleepy-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": package({"index.py": code})},
        Timeout=60,  # the 30 s it sleeps count against its timeout
    )
    offset_before = regional_state.now() - time.time()
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == [
        "streamflix_dr_emulator.lambda_runtime",
        "_sleep",
    ]
    # The handler's sleep did not move the emulated clock (its offset from real time is unchanged).
    assert abs((regional_state.now() - time.time()) - offset_before) < 1


def test_handler_logging_stays_out_of_the_host_process(factory: Any, role: str) -> None:
    code = (
        "import logging\n\nLOG = logging.getLogger()\nLOG.setLevel(logging.INFO)\n\n"
        "def handler(e, c):\n    LOG.info('inside the function')\n    return 'logged'\n"
    )
    lam = factory.client("lambda", REGION)
    name = f"logger-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": package({"index.py": code})},
    )
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    response = lam.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(response["Payload"].read()) == "logged"
    # The function's root-level change and its records did not leak into this process.
    assert (root.level, root.handlers) == (level, handlers)
    assert "inside the function" in base64.b64decode(response.get("LogResult", "")).decode()


def _timeout_function(factory: Any, role: str, code: str, timeout: int) -> str:
    name = f"slow-{uuid.uuid4().hex[:6]}"
    factory.client("lambda", REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": package({"index.py": code})},
        Timeout=timeout,
    )
    return name


@pytest.mark.parametrize(
    "body",
    [
        "    time.sleep(10)\n    return 'finished'\n",
        # A handler cannot catch Lambda's timeout.
        "    try:\n        time.sleep(10)\n    except Exception:\n        return 'caught'\n"
        "    return 'finished'\n",
        # Real time counts too (a wait that is not time.sleep).
        "    threading.Event().wait(5)\n    return 'finished'\n",
    ],
    ids=["sleep", "sleep-in-try", "blocking-wait"],
)
def test_a_handler_running_past_its_timeout_fails_the_invocation(factory: Any, role: str, body: str) -> None:
    code = "import threading\nimport time\n\ndef handler(e, c):\n" + body
    timeout = 1 if "Event" in body else 3
    name = _timeout_function(factory, role, code, timeout)
    resp = factory.client("lambda", REGION).invoke(FunctionName=name, Payload=b"{}")
    assert resp.get("FunctionError") == "Unhandled"
    body_out = json.loads(resp["Payload"].read())
    assert body_out["errorMessage"].endswith(f"Task timed out after {timeout}.00 seconds")
    assert body_out["errorType"] == "Sandbox.Timedout"


def test_remaining_time_counts_the_seconds_slept(factory: Any, role: str) -> None:
    code = (
        "import time\n\ndef handler(e, c):\n    time.sleep(4)\n    return c.get_remaining_time_in_millis()\n"
    )
    name = _timeout_function(factory, role, code, 10)
    resp = factory.client("lambda", REGION).invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) <= 6000
