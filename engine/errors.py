"""Few error classes, caught once at the boundary. Every message is one sentence a user can act on."""


class EngineError(Exception):
    """Base class: the message is shown to the user as it is."""


class InputError(EngineError):
    """Bad input refused before anything is queued (unknown pass, wrong config, missing dataset...)."""


class NotFoundError(InputError):
    """An id that does not exist."""


class FormatError(EngineError):
    """A file that is not a model or data set Trimline can read, or is damaged."""


class UnsafeFileError(FormatError):
    """A file refused because loading it could run code or reach outside its folder."""


class PassError(EngineError):
    """A pass failed; the library's own error is chained and kept in the job log."""


class FidelityError(PassError):
    """A conversion's output differs from its parent beyond tolerance."""


class MeasureError(EngineError):
    """A benchmark or evaluation could not be run as asked."""


class JobFailedError(EngineError):
    """A job ended failed or cancelled; the message is the job's error."""
