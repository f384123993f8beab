"""One exception root with a subclass per failure. Messages name the region, stack or field and the fix."""

from __future__ import annotations


class StreamflixDrError(Exception):
    """Root of every error the package raises on purpose. The CLI maps these to exit codes."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} Fix: {fix}" if fix else message)


class ConfigError(StreamflixDrError):
    """An environment file, a CLI option or a parameter value is wrong. Raised before anything changes."""

    exit_code = 2

    def __init__(
        self, field: str, value: object, problem: str, fix: str, *, source: str | None = None
    ) -> None:
        self.field = field
        self.value = value
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}={value!r}: {problem}.", fix=fix)


class TemplateError(StreamflixDrError):
    """A template does not parse or is structurally unusable."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, problem: str, fix: str) -> None:
        self.path = path
        self.line = line
        loc = f"{path}:{line}" if line else path
        super().__init__(f"{loc}: {problem}.", fix=fix)


class AwsError(StreamflixDrError):
    """An AWS call failed after retries."""


class CredentialsError(AwsError):
    """No usable AWS credentials: none found, an unknown profile, expired or rejected keys."""

    exit_code = 7


class EndpointError(AwsError):
    """The AWS endpoint cannot be reached, does not answer in time, or does not answer like AWS."""

    exit_code = 8


class DeadlineError(StreamflixDrError):
    """The command's overall deadline (--deadline-minutes) passed before it finished."""


class Interrupted(StreamflixDrError):
    """Ctrl-C (or SIGTERM): the message says what was interrupted and the command that resumes it."""

    exit_code = 130


class EnvironmentLockedError(StreamflixDrError):
    """Another deploy/destroy/failover/failback of the same environment holds the environment lock."""

    exit_code = 4


class FailedOverError(StreamflixDrError):
    """The environment runs in its DR region; an operation written for the normal direction refuses."""

    exit_code = 2


class LeftoversError(AwsError):
    """After destroy, resources carrying the environment's suffix remain (named in the message)."""


class StackError(AwsError):
    """A stack operation failed or a stack is in a state we cannot act on."""

    def __init__(self, region: str, stack: str, problem: str, fix: str) -> None:
        self.region = region
        self.stack = stack
        super().__init__(f"{region}/{stack}: {problem}.", fix=fix)


class StackTimeoutError(StackError):
    """A stack operation did not finish within its time bound."""


class EmulatorError(StreamflixDrError):
    """The embedded emulator could not start or cannot create a resource type."""


class ReadinessError(StreamflixDrError):
    """The DR region is not ready and the operation refuses to go on without --force."""

    exit_code = 3


class FailoverError(StreamflixDrError):
    """A failover or failback step failed; the journal is kept and a rerun resumes."""


class ConcurrentRunError(FailoverError):
    """Another failover/failback run holds the lock."""

    exit_code = 4


class AbortedByUser(StreamflixDrError):
    """The operator declined the plan."""

    exit_code = 5


class NotServingError(FailoverError):
    """The failover ran but the DR region does not serve: no healthy target, or the health check fails."""

    exit_code = 6
