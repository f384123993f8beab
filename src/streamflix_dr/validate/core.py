"""``validate``: cfn-lint + the DR rules for every stack, the environment's parameters, and checkov."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from streamflix_dr.config import Environment, load_environment, template_parameter_names
from streamflix_dr.constants import DR_REGION, PRIMARY_REGION, Param, Phase, Role
from streamflix_dr.errors import ConfigError
from streamflix_dr.template import main_template_path
from streamflix_dr.validate import cfnlint_runner, checkov_runner, parameters
from streamflix_dr.validate.findings import Finding, Severity, Source, Summary, ValidationResult

LOGGER = logging.getLogger(__name__)

# The stacks one template becomes, in deploy order: DR base, primary, DR full.
STACKS: tuple[tuple[Role, Phase], ...] = (
    (Role.DR, Phase.BASE),
    (Role.PRIMARY, Phase.FULL),
    (Role.DR, Phase.FULL),
)


def _region(role: Role, environment: Environment | None) -> str:
    if environment is not None:
        return environment.region_of(role).region
    return PRIMARY_REGION if role is Role.PRIMARY else DR_REGION


def stack_values(
    environment: Environment, template: Mapping[str, Any], role: Role, phase: Phase
) -> dict[str, str]:
    """The parameter values of one stack as ``deploy`` would pass them before any region exists.

    Values read from the other region at deploy time (the primary's DB ARN, the DR file system...)
    are replaced by the well-formed stand-ins ``deploy`` uses for its own pre-flight check.
    """
    from streamflix_dr.deploy import orchestrator  # noqa: PLC0415 - pulls in the AWS layer; only with --env

    peer = orchestrator.peer_parameters(
        environment, role, phase, orchestrator.preflight_peer_outputs(environment)
    )
    # Parameters deploy supplies itself (artifact bucket and key of the automation code).
    extra = getattr(orchestrator, "_PREFLIGHT_EXTRA", None)
    return orchestrator.stack_parameters(
        environment, template=dict(template), role=role, phase=phase, peer=peer, extra=extra
    )


def _undeclared(environment: Environment, role: Role, template: Mapping[str, Any]) -> list[str]:
    """Names in the environment's ``parameters:`` blocks that the template does not declare."""
    declared = set((template.get("Parameters") or {}).keys())
    given = {**environment.parameters, **environment.region_of(role).parameters}
    return sorted(k for k in given if k not in declared)


def _config_finding(e: ConfigError, env: str) -> Finding:
    source = e.source or f"--env {env}"
    template, line = source, None
    head, _, tail = source.rpartition(":")
    if head and tail.isdigit():
        template, line = head, int(tail)
    message = e.message
    if e.source and message.startswith(f"{e.source}: "):
        # The location is the finding's template/line; do not repeat it in the text.
        message = message[len(e.source) + 2 :]
    return Finding(
        source=Source.CONFIG,
        rule_id="config",
        severity=Severity.ERROR,
        template=template,
        line=line,
        resource=None,
        message=message,
        fix=e.fix,
    )


def _merge(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """One finding per (source, rule, place, message), listing every stack it applies to."""
    merged: dict[tuple[Any, ...], Finding] = {}
    for f in findings:
        key = (f.source, f.rule_id, f.template, f.line, f.message)
        if key in merged:
            old = merged[key]
            stacks = old.stacks + tuple(s for s in f.stacks if s not in old.stacks)
            merged[key] = Finding(**{**old.__dict__, "stacks": stacks})
        else:
            merged[key] = f
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return tuple(
        sorted(merged.values(), key=lambda f: (order[f.severity], f.template, f.line or 0, f.rule_id))
    )


def validate(
    paths: Sequence[Path | str] | None = None,
    env: str | None = None,
    include_checkov: bool = True,
    *,
    environments_dir: Path | None = None,
    checkov_env: Mapping[str, str] | None = None,
    checkov_runner_fn: Callable[..., Any] = subprocess.run,
    clock: Callable[[], float] = time.monotonic,
) -> ValidationResult:
    """Validate templates for every stack they become and return the findings (never prints or exits).

    Args:
        paths: Templates to check; default the main template (``template.main_template_path()``).
        env: An environment name or file (``--env``). Its values are checked against each template's
            parameter constraints and passed to cfn-lint; its regions replace the default ones.
        include_checkov: Run checkov (found via $STREAMFLIX_DR_CHECKOV, .venv-checkov, PATH). When it is
            not found that is an error finding; when False the summary says "skipped".
        environments_dir: Where environment names are looked up (default: the shipped ones).
        checkov_env: The environment used to find checkov (default ``os.environ``).
        checkov_runner_fn: ``subprocess.run`` or a test double.
        clock: Monotonic clock, for the timings.

    Each template is linted for (dr, base), (primary, full) and (dr, full) in the role's region,
    with cfn-lint's own rules (informational ones included) and the project's DR rules, in one cfn-lint run
    per template (every stack's parameter set and region at once), while checkov runs alongside.
    """
    started = clock()
    timings: dict[str, float] = {}
    findings: list[Finding] = []
    templates = [Path(p) for p in paths] if paths else [main_template_path()]

    environment: Environment | None = None
    if env:
        t = clock()
        try:
            # The environment's parameters are names of the template being validated (not the packaged one).
            known = template_parameter_names(templates[0]) if templates[0].is_file() else None
            environment = load_environment(env, environments_dir, known_parameters=known)
        except ConfigError as e:
            findings.append(_config_finding(e, env))
        timings["config"] = clock() - t

    check_params, checker_name = parameters.checker()
    parsed: list[Path] = []
    to_lint: list[tuple[Path, list[cfnlint_runner.StackSpec], cfnlint_runner.ResourceLines]] = []
    for path in templates:
        t = clock()
        if not path.is_file():
            findings.append(
                Finding(
                    source=Source.CFN_LINT,
                    rule_id="E0000",
                    severity=Severity.ERROR,
                    template=str(path),
                    line=None,
                    resource=None,
                    message="no such template",
                    fix="pass the path of a CloudFormation template (default: templates/streamflix-dr.yaml)",
                )
            )
            continue
        template, parse_error = cfnlint_runner.parse(path)
        timings["parse"] = timings.get("parse", 0.0) + clock() - t
        if parse_error is not None or template is None:
            if parse_error is not None:
                findings.append(parse_error)
            continue
        parsed.append(path)
        specs: list[cfnlint_runner.StackSpec] = []
        for role, phase in STACKS:
            region = _region(role, environment)
            stack = f"{role.value}/{phase.value} {region}"
            values: dict[str, str] = {Param.ROLE: role.value, Param.PHASE: phase.value}
            if environment is not None:
                values = stack_values(environment, template, role, phase)
                t = clock()
                problems = [
                    f"{name}: the template declares no such parameter; remove it from the parameters: block"
                    for name in _undeclared(environment, role, template)
                ]
                for problem in [*problems, *check_params(template, values)]:
                    findings.append(
                        Finding(
                            source=Source.PARAMETERS,
                            rule_id="parameter-value",
                            severity=Severity.ERROR,
                            template=str(path),
                            line=parameters.parameter_line(template, problem),
                            resource=None,
                            message=f"{problem} (value from {environment.source})",
                            fix=f"correct the value in {environment.source} (the parameters: block, or the "
                            "regions block it comes from)",
                            stacks=(stack,),
                        )
                    )
                timings["parameters"] = timings.get("parameters", 0.0) + clock() - t
            specs.append(cfnlint_runner.StackSpec(stack, region, values))
        to_lint.append((path, specs, cfnlint_runner.ResourceLines(template)))
    LOGGER.debug("parameter values checked with %s", checker_name)

    # checkov runs in its own process (its own virtualenv): start it first and let it work while cfn-lint
    # lints in this one; the thread only waits for the subprocess.
    checkov_status = "skipped"
    checkov_job: Future[tuple[list[Finding], float]] | None = None
    pool: ThreadPoolExecutor | None = None

    def run_checkov(exe: str) -> tuple[list[Finding], float]:
        t = clock()
        found = checkov_runner.run_checkov(exe, parsed, runner=checkov_runner_fn)
        return found, clock() - t

    if include_checkov:
        exe = checkov_runner.find_checkov(checkov_env)
        if exe is None:
            findings.append(checkov_runner.not_found_finding(checkov_env))
            checkov_status = "not found"
        elif parsed:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkov")
            checkov_job = pool.submit(run_checkov, exe)
            checkov_status = "ran"
        else:
            checkov_status = "ran"

    try:
        for path, specs, lines in to_lint:
            t = clock()
            findings.extend(
                cfnlint_runner.lint_stacks(
                    path,
                    specs,
                    parameters_source=environment.source if environment else None,
                    resource_lines=lines,
                    # Without an environment the sets hold only Role and Phase: the DR rules need them,
                    # cfn-lint's own rules check every allowed value of both anyway.
                    sets_for_cfn_lint=environment is not None,
                )
            )
            timings["cfn-lint"] = timings.get("cfn-lint", 0.0) + clock() - t
    finally:
        if checkov_job is not None:
            found, seconds = checkov_job.result()
            findings.extend(found)
            # checkov's own run time; it overlaps the cfn-lint time.
            timings["checkov"] = seconds
        if pool is not None:
            pool.shutdown()

    merged = _merge(findings)
    elapsed = clock() - started
    summary = Summary(
        errors=sum(f.severity is Severity.ERROR for f in merged),
        warnings=sum(f.severity is Severity.WARNING for f in merged),
        infos=sum(f.severity is Severity.INFO for f in merged),
        templates=tuple(str(p) for p in templates),
        elapsed_seconds=elapsed,
        checkov=checkov_status,
    )
    return ValidationResult(findings=merged, summary=summary, timings=timings)
