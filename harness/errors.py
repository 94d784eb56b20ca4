"""Exception hierarchy. Every error a user can cause is a :class:`HarnessError` whose message says what is
wrong and how to fix it; the CLI prints it without a traceback and exits with status 2."""


class HarnessError(Exception):
    """Base class for errors caused by input or environment (not bugs)."""


class StudyError(HarnessError):
    """A malformed or inconsistent study file."""


class AudioError(HarnessError):
    """Unreadable, corrupt or unusable audio."""


class ManifestError(HarnessError):
    """A missing, corrupt or incompatible manifest of prepared stimuli."""
