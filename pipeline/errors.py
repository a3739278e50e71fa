"""The project's exceptions: every expected failure is an :class:`SfvosError`.

Its message is one line that names the file or parameter, says what is wrong and what to do;
the stage commands and ``sfvos`` print it as ``error: <message>`` and exit with code 2
(``--debug`` or ``SFVOS_DEBUG=1`` shows the traceback too). Any other exception is a bug and
keeps its traceback.
"""


class SfvosError(Exception):
    """An expected failure; the message says which file or parameter, why, and what to do."""


class ConfigError(SfvosError, ValueError):
    """A ``params.yaml`` value or a command-line option that cannot work."""


class InputError(SfvosError, ValueError):
    """A file or folder given to the pipeline (data, mask, video, results) is not usable."""


class CheckpointError(InputError):
    """A weights file that is missing, truncated, unsafe or not written by this pipeline."""


class TrainingDivergedError(SfvosError, RuntimeError):
    """The training loss became NaN or infinite; training stopped at the step named."""
