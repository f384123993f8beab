"""Run Python Lambda handlers in-process, instead of moto's Docker runner.

The project's functions are its own Python, so the emulator runs them in this interpreter:
- ``lambda.invoke`` (RequestResponse: the handler's return value as the payload, a raised
  exception as ``X-Amz-Function-Error`` with the ``errorMessage``/``errorType``/``stackTrace`` body
  Lambda documents; Event: HTTP 202 at once, the handler runs on a background thread)
  https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
  https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
- Lambda-backed custom resources (``invoke_custom_resource``): the event CloudFormation sends
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html), with a
  ``cfnresponse`` module whose ``send`` records the response instead of PUTting it to the
  pre-signed URL (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-lambda-function-code-cfnresponsemodule.html).

The code is the function's deployment package as moto holds it (inline ``ZipFile`` code is
``index.py``; S3 code is the zip from moto's S3), extracted to a temporary directory; the handler
module is imported fresh per invocation. The handler sees the function's environment variables,
``AWS_REGION``/``AWS_DEFAULT_REGION`` of its region, test credentials and ``AWS_ENDPOINT_URL`` =
the emulator, so a plain ``boto3.client("s3")`` inside it talks to the emulator.

A handler's ``time.sleep`` (module-level ``import time`` or ``from time import sleep``) returns at
once: nothing in the emulator happens asynchronously that a handler would wait for (an emptier's
pause for late log deliveries), so a drill's teardown does not wait out real seconds. The emulated
clock (``regional_state``) is left alone, since other code compares it with real timestamps. Set
STREAMFLIX_DR_EMULATOR_REAL_SLEEP=1 to sleep for real.

The function's ``Timeout`` is enforced: a handler still running after ``Timeout`` seconds fails the
invocation with Lambda's timeout error (payload ``{"errorMessage": "<time> <request id> Task timed out after
N.00 seconds"}``, FunctionError Unhandled; the text as Lambda returns it, quoted in
aws-samples/amazon-textract-idp-cdk-constructs#80 and alexa-samples/skill-sample-nodejs-smarthome-switch#18;
errorType ``Sandbox.Timedout`` as the Lambda developer guide's "Troubleshoot invocation issues" names it,
https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html#troubleshooting-timeouts).
Time is real time plus the seconds a handler asked ``time.sleep`` for (the fast-forwarded sleeps count
in full, so a handler that waits 10 s with a 3 s timeout times out as on AWS), and
``context.get_remaining_time_in_millis()`` counts the same way.

Limits, stated: environment variables are process-wide, so two handlers running at the same time
with different values for one variable (including the region) see each other's; a timed-out handler cannot
be killed inside this process: its thread is abandoned (its next ``time.sleep`` ends it; a handler busy in
other code runs on in the background, with its result discarded); only ``python*`` runtimes run (others
fail with InvalidRuntimeException).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAILED = "FAILED"

_endpoint: str | None = None
_import_lock = threading.Lock()
_env_lock = threading.Lock()
_env_depth = 0
_env_saved: dict[str, str | None] = {}
_installed = False


class TaskTimedOutError(BaseException):
    """Raised inside a handler's ``time.sleep`` once its time is up (BaseException: handlers' ``except
    Exception`` do not swallow it, as nothing in a function survives Lambda's timeout)."""


@dataclass
class _Budget:
    """One invocation's clock: real seconds since the start plus the seconds slept (fast-forwarded)."""

    timeout_s: float
    started: float = field(default_factory=time.monotonic)
    slept: float = 0.0
    expired: bool = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started + self.slept

    def remaining(self) -> float:
        return max(0.0, self.timeout_s - self.elapsed())


_current = threading.local()


class UnsupportedRuntimeError(Exception):
    """The function's runtime is not Python, so it cannot run in this interpreter."""

    def __init__(self, function_name: str, runtime: str | None) -> None:
        self.function_name = function_name
        self.runtime = runtime
        super().__init__(
            f"function {function_name} has runtime {runtime!r}: the StreamFlix DR emulator runs only "
            "python* runtimes in-process; use a python3.x runtime or test this function against AWS"
        )


@dataclass
class CfnResponse:
    """What a custom-resource handler sent through ``cfnresponse.send``."""

    status: str
    data: dict[str, Any]
    physical_resource_id: str | None
    reason: str | None
    no_echo: bool = False


@dataclass
class Invocation:
    """The outcome of one handler run."""

    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    responses: list[CfnResponse] = field(default_factory=list)

    @property
    def payload(self) -> str:
        return json.dumps(self.error if self.error is not None else self.result)


def set_endpoint(endpoint: str | None) -> None:
    """Where handlers' AWS SDK calls go (the running emulator); the server sets this."""
    global _endpoint  # noqa: PLW0603 - one emulator per process
    _endpoint = endpoint


def get_endpoint() -> str | None:
    return _endpoint


class LambdaContext:
    """The context object a Python handler receives (the attributes Lambda documents)."""

    def __init__(self, fn: Any, timeout_s: int, budget: _Budget | None = None) -> None:
        self.function_name = fn.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = str(getattr(fn, "memory_size", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._budget = budget or _Budget(float(timeout_s))

    def get_remaining_time_in_millis(self) -> int:
        return int(self._budget.remaining() * 1000)


def _cfnresponse_shim(recorder: list[CfnResponse]) -> types.ModuleType:
    """A ``cfnresponse`` module with AWS's names whose ``send`` records instead of PUTting."""
    shim = types.ModuleType("cfnresponse")
    shim.SUCCESS = SUCCESS  # type: ignore[attr-defined]
    shim.FAILED = FAILED  # type: ignore[attr-defined]

    def send(  # noqa: PLR0917 - AWS's cfnresponse.send signature
        event: dict[str, Any],
        context: Any,
        responseStatus: str,
        responseData: dict[str, Any] | None,
        physicalResourceId: str | None = None,
        noEcho: bool = False,
        reason: str | None = None,
    ) -> None:
        default_reason = (
            f"See the details in CloudWatch Log Stream: {getattr(context, 'log_stream_name', '')}"
        )
        recorder.append(
            CfnResponse(
                status=responseStatus,
                data=dict(responseData or {}),
                physical_resource_id=physicalResourceId or getattr(context, "log_stream_name", None),
                reason=reason or default_reason,
                no_echo=noEcho,
            )
        )

    shim.send = send  # type: ignore[attr-defined]
    return shim


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    global _env_depth  # noqa: PLW0603 - process-wide environment, see the module docstring
    with _env_lock:
        for key, value in values.items():
            if key not in _env_saved:
                _env_saved[key] = os.environ.get(key)
            os.environ[key] = value
        _env_depth += 1
    try:
        yield
    finally:
        with _env_lock:
            _env_depth -= 1
            if _env_depth == 0:
                for key, old in _env_saved.items():
                    if old is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = old
                _env_saved.clear()


@contextlib.contextmanager
def _function_logging(buffer: io.StringIO) -> Iterator[None]:
    """The function's logging goes to its own log (CloudWatch Logs on AWS), not the host's stderr.

    Lambda code commonly sets the root logger's level at import (``logging.getLogger().setLevel(INFO)``);
    in its own process on AWS that touches nothing else, so here the root logger's level and handlers are
    restored afterwards. Host threads logging meanwhile land in the function's log: an accepted blur.
    """
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    root.handlers = [logging.StreamHandler(buffer)]
    try:
        yield
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)


def _function_env(fn: Any) -> dict[str, str]:
    region = fn.region
    env = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
    }
    if _endpoint:
        env["AWS_ENDPOINT_URL"] = _endpoint
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    return env


def _sleep(seconds: float) -> None:
    """A handler's ``time.sleep``: returns at once, but the seconds count against its timeout."""
    seconds = max(0.0, float(seconds))
    budget: _Budget | None = getattr(_current, "budget", None)
    if budget is not None:
        budget.slept += seconds
        if budget.expired or budget.elapsed() > budget.timeout_s:
            budget.expired = True
            raise TaskTimedOutError()
    time.sleep(min(seconds, 0.01))


def _fast_forward_sleep(module: types.ModuleType) -> None:
    if os.environ.get("STREAMFLIX_DR_EMULATOR_REAL_SLEEP") == "1":
        return
    if getattr(module, "time", None) is time:
        shim = types.ModuleType("time")
        shim.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
        shim.sleep = _sleep  # type: ignore[attr-defined]
        module.time = shim  # type: ignore[attr-defined]
    if getattr(module, "sleep", None) is time.sleep:
        module.sleep = _sleep  # type: ignore[attr-defined]


def _load_handler(fn: Any, code_dir: Path, cfnresponse: types.ModuleType) -> Any:
    """Import the handler module fresh from ``code_dir`` and return the handler callable."""
    handler = fn.handler or ""
    module_name, _, func_name = handler.rpartition(".")
    if not module_name or not func_name:
        raise ValueError(f"function {fn.function_name}: Handler={handler!r} must be '<module>.<function>'")
    with _import_lock:
        before = set(sys.modules)
        saved = {name: sys.modules.pop(name) for name in (module_name, "cfnresponse") if name in sys.modules}
        sys.modules["cfnresponse"] = cfnresponse
        sys.path.insert(0, str(code_dir))
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.path.remove(str(code_dir))
            # Forget what came from the package so the next function with an ``index`` gets its own.
            for name in set(sys.modules) - before:
                file = getattr(sys.modules[name], "__file__", None) or ""
                if name in (module_name, "cfnresponse") or file.startswith(str(code_dir)):
                    sys.modules.pop(name, None)
            sys.modules.pop("cfnresponse", None)
            sys.modules.update(saved)
    _fast_forward_sleep(module)
    target = getattr(module, func_name, None)
    if not callable(target):
        raise ValueError(
            f"function {fn.function_name}: Handler={handler!r}: {module_name} has no function {func_name}"
        )
    return target


def run(fn: Any, event: Any) -> Invocation:
    """Run ``fn``'s handler on ``event`` in this process.

    Args:
        fn: moto's ``LambdaFunction``.
        event: the decoded event.

    Returns:
        The ``Invocation``: return value or error, captured stdout/stderr, recorded cfnresponse calls.

    Raises:
        UnsupportedRuntimeError: the runtime is not Python.
    """
    if not str(fn.run_time or "").startswith("python"):
        raise UnsupportedRuntimeError(fn.function_name, fn.run_time)
    outcome = Invocation()
    shim = _cfnresponse_shim(outcome.responses)
    with tempfile.TemporaryDirectory(prefix=f"lambda-{fn.function_name}-") as tmp:
        code_dir = Path(tmp)
        code = getattr(fn, "code_bytes", b"") or b""
        if not code:
            raise ValueError(f"function {fn.function_name} has no deployment package (ZipFile or S3 code)")
        with zipfile.ZipFile(io.BytesIO(code)) as zf:
            zf.extractall(code_dir)
        logs = io.StringIO()
        timeout_s = int(getattr(fn, "timeout", 3) or 3)
        budget = _Budget(float(timeout_s))
        context = LambdaContext(fn, timeout_s, budget)
        with _environment(_function_env(fn)), _function_logging(logs):
            try:
                handler = _load_handler(fn, code_dir, shim)
                done = _call_with_timeout(fn, handler, event, context=context, budget=budget, logs=logs)
                if done is None:
                    outcome.error = _timeout_error(context, timeout_s)
                    log.info("function %s timed out after %s s", fn.function_name, timeout_s)
                else:
                    outcome.result = done[0]
            except Exception as e:
                outcome.error = {
                    "errorMessage": str(e),
                    "errorType": type(e).__name__,
                    "stackTrace": traceback.format_exception(e)[1:],
                }
                log.info("function %s raised %s: %s", fn.function_name, type(e).__name__, e)
        outcome.logs = logs.getvalue()
    return outcome


def _timeout_error(context: LambdaContext, timeout_s: int) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return {
        "errorMessage": f"{now}.000Z {context.aws_request_id} Task timed out after {timeout_s:.2f} seconds",
        "errorType": "Sandbox.Timedout",
    }


def _call_with_timeout(
    fn: Any, handler: Any, event: Any, *, context: LambdaContext, budget: _Budget, logs: io.StringIO
) -> tuple[Any] | None:
    """Run the handler on a worker thread; its (result,), or None when it ran out of time.

    An exception the handler raised is re-raised here.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        _current.budget = budget
        try:
            with contextlib.redirect_stdout(logs):
                box["result"] = handler(event, context)
        except TaskTimedOutError:
            box["timed_out"] = True
        except Exception as e:  # handed back to the caller's thread
            box["error"] = e
        finally:
            _current.budget = None

    worker = threading.Thread(target=target, name=f"lambda-{fn.function_name}", daemon=True)
    worker.start()
    while worker.is_alive() and not budget.expired:
        worker.join(timeout=min(0.05, max(budget.remaining(), 0.001)))
        if budget.remaining() <= 0:
            budget.expired = True
    if "error" in box:
        raise box["error"]
    if "result" in box and not box.get("timed_out"):
        return (box["result"],)
    budget.expired = True
    return None


def invoke_custom_resource(fn: Any, event: dict[str, Any]) -> CfnResponse:
    """Run a custom-resource handler and return the response it sent.

    A handler that raises or returns without calling ``cfnresponse.send`` yields FAILED (AWS would
    wait for the response until the custom resource times out, then fail).
    """
    outcome = run(fn, event)
    if outcome.responses:
        return outcome.responses[-1]
    problem = (
        f"{outcome.error['errorType']}: {outcome.error['errorMessage']}"
        if outcome.error
        else "the handler returned without sending a response through cfnresponse.send"
    )
    return CfnResponse(
        status=FAILED, data={}, physical_resource_id=None, reason=f"function {fn.function_name}: {problem}"
    )


def install() -> None:
    """Make moto run Python functions in-process on every invoke path. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    from streamflix_dr_emulator.cfn._common import patch_attr  # noqa: PLC0415

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        try:
            outcome = run(self, event if event is not None else {})
        except UnsupportedRuntimeError as e:
            # Lambda's Invoke error for a runtime it cannot run (HTTP 502).
            raise JsonRESTError("InvalidRuntimeException", str(e), code=502) from e
        return outcome.payload, outcome.error is not None, outcome.logs

    original_invoke = LambdaFunction.invoke

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        inv_type = (request_headers or {}).get("x-amz-invocation-type") or (request_headers or {}).get(
            "X-Amz-Invocation-Type", "RequestResponse"
        )
        if inv_type != "Event":
            result = original_invoke(self, body, request_headers, response_headers)
            if response_headers.get("x-amz-function-error"):
                # An exception a Python handler raises, and a timeout, are "Unhandled" (moto says
                # "Handled"): https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html shows
                # "FunctionError": "Unhandled" for a raised exception;
                # alexcasalboni/aws-lambda-power-tuning#242 shows it for a timeout.
                response_headers["x-amz-function-error"] = "Unhandled"
            return result
        if not str(self.run_time or "").startswith("python"):
            raise JsonRESTError(
                "InvalidRuntimeException",
                str(UnsupportedRuntimeError(self.function_name, self.run_time)),
                code=502,
            )
        # Event: accepted at once (HTTP 202), run asynchronously like Lambda's internal queue.
        event = json.loads(body) if body else {}

        def background() -> None:
            outcome = run(self, event)
            if outcome.error:
                log.warning(
                    "async invocation of %s failed: %s", self.function_name, outcome.error["errorMessage"]
                )

        threading.Thread(target=background, name=f"lambda-{self.function_name}", daemon=True).start()
        return b""

    patch_attr(LambdaFunction, "_invoke_lambda", _invoke_lambda)
    patch_attr(LambdaFunction, "invoke", invoke)
    _installed = True
