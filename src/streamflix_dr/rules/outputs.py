"""DR rule E9901: the outputs the CLI reads exist in every stack that must export them."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.constants import OUTPUTS_BY_ROLE, Param, Phase, Role
from streamflix_dr.rules import _common as c


def _combos(cfn: Any) -> list[tuple[Role, Phase, dict[str, Any]]]:
    """The (role, phase) stacks to check: those named by the parameter sets, else every known one."""
    out: list[tuple[Role, Phase, dict[str, Any]]] = []
    for pset in c.parameter_values(cfn):
        role, phase = pset.get(Param.ROLE), pset.get(Param.PHASE)
        if role in {r.value for r in Role} and phase in {p.value for p in Phase}:
            key = (Role(role), Phase(phase))
            if key in OUTPUTS_BY_ROLE:
                out.append((key[0], key[1], pset))
    if out:
        return out
    return [(r, p, {Param.ROLE: r.value, Param.PHASE: p.value}) for r, p in OUTPUTS_BY_ROLE]


class DrRequiredOutputs(CloudFormationLintRule):
    """Each role's stack exports the outputs in ``streamflix_dr.constants.OUTPUTS_BY_ROLE``."""

    id = "E9901"
    shortdesc = "Required outputs are present for each role and phase"
    description = (
        "In a template with the Role parameter, for each (Role, Phase) stack in "
        "streamflix_dr.constants.OUTPUTS_BY_ROLE (or the one given by the "
        "parameter set), every listed output exists and its Condition is true whenever that Role and Phase "
        "are."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html"
    )
    tags = ["outputs", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        if Param.ROLE not in (cfn.template.get("Parameters", {}) or {}):
            # Not a role-selecting StreamFlix DR template: there is no stack whose outputs the CLI reads.
            return matches
        outputs = cfn.template.get("Outputs", {}) or {}
        missing: dict[str, list[str]] = {}
        for role, phase, params in _combos(cfn):
            stack = f"{Param.ROLE}={role.value}, {Param.PHASE}={phase.value}"
            for name in OUTPUTS_BY_ROLE[(role, phase)]:
                out = outputs.get(name)
                if not isinstance(out, dict):
                    missing.setdefault(name, []).append(f"{role.value}/{phase.value}")
                    continue
                cond = out.get("Condition")
                if not isinstance(cond, str):
                    continue
                absent = [s for s in c.scenarios(cfn, {cond}, params=params) if s.get(cond) is False]
                if absent:
                    matches.append(
                        RuleMatch(
                            ["Outputs", name, "Condition"],
                            f"output {name} is absent from the {stack} stack when {cond} is false. Fix: make "
                            f"the output unconditional for this role (e.g. output '' when {cond} is false "
                            "with Fn::If)",
                        )
                    )
        for name, stacks in missing.items():
            matches.append(
                RuleMatch(
                    ["Outputs"],
                    f"output {name} is missing (needed by the {', '.join(stacks)} stack). Fix: add "
                    f"Outputs.{name}; the CLI reads it (streamflix_dr.constants.OUTPUTS_BY_ROLE)",
                )
            )
        return matches
