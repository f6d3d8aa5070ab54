"""The exceptions tunescout raises; each message is one line a user can act on."""


class TunescoutError(Exception):
    """Base class for every error tunescout raises on purpose."""


class CatalogError(TunescoutError, ValueError):
    """A table does not match the catalog schema (names the column and the bad rows' count)."""


class DataMissingError(TunescoutError, FileNotFoundError):
    """Data that a step needs has not been collected or built yet (says which command makes it)."""


class SourceError(TunescoutError):
    """A data source could not deliver (no credentials, network down, bad download)."""


class ArtifactError(TunescoutError):
    """An index artifact is missing, corrupt or incompatible (names the file and the rebuild command)."""


class UnknownIdError(TunescoutError, KeyError):
    """A track, artist or user id that the catalog does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(TunescoutError, ValueError):
    """A user-supplied value (query, filter, rating, file) that cannot be used as given."""


class StorageError(TunescoutError):
    """The ratings database cannot be read or written (busy past its timeout, not a database)."""
