"""Template validation: cfn-lint (API) + the project's DR rules + checkov, as findings (data).

``validate()`` is the entry point; ``render`` turns its result into text or JSON.
"""

from streamflix_dr.validate.core import STACKS, validate
from streamflix_dr.validate.findings import Finding, Severity, Source, Summary, ValidationResult

__all__ = ["STACKS", "Finding", "Severity", "Source", "Summary", "ValidationResult", "validate"]
