"""Run checkov with bc_jsonpath_ng's parse table built once per process (run by checkov's own Python).

checkov renders CloudFormation variables through ``bc_jsonpath_ng``, whose parser calls ``ply.yacc.yacc(...,
write_tables=0)`` on every parse, so the LALR table of the JSONPath grammar is rebuilt for each of the
template's expressions: about 40% of checkov's time on this template. This script memoises that build (per
thread, per parser class and start symbol; the grammar's actions keep no state on the parser object) and then
runs checkov's own entry point with the same arguments, so the checks and the report are checkov's, unchanged
(``tests/unit/validate`` compares the two reports). It imports nothing from streamflix_dr: it runs in
checkov's virtualenv. Without ``ply`` it runs checkov as is.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any


def _memoise_yacc() -> None:
    try:
        import ply.yacc  # noqa: PLC0415 - only present in checkov's environment
    except ImportError:
        return
    build = ply.yacc.yacc
    local = threading.local()

    def yacc_once(*args: Any, **kwargs: Any) -> Any:
        module = kwargs.get("module")
        if module is None or args:
            return build(*args, **kwargs)
        key = (type(module), kwargs.get("start"), kwargs.get("debug"), kwargs.get("tabmodule"))
        parsers = local.__dict__.setdefault("parsers", {})
        if key not in parsers:
            parsers[key] = build(*args, **kwargs)
        return parsers[key]

    ply.yacc.yacc = yacc_once


def main() -> int:
    _memoise_yacc()
    from checkov.main import Checkov  # noqa: PLC0415 - checkov's environment only

    # As checkov's own console script does.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        return int(Checkov().run() or 0)


if __name__ == "__main__":
    sys.exit(main())
