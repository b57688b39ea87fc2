"""The checks an upload passes before the store is touched, off the event loop."""

from __future__ import annotations

import pickle
from pathlib import Path

from anyio import BrokenWorkerProcess, to_process, to_thread
from packaging.metadata import Metadata

from ..errors import InvalidUpload
from ..metadata.extract import extract_metadata
from ..names import DistFilename, InvalidFilename, parse_dist_filename
from ..upload.inspect import Upload, inspect_upload
from ..upload.validate import check_metadata
from ..validation import ArchiveLimits, StrictValidator, Validator


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


class UploadChecks:
    def __init__(
        self, validator: Validator | None = None, limits: ArchiveLimits | None = None, *, isolate: bool = True
    ) -> None:
        self.limits = limits or ArchiveLimits()
        self.validator: Validator = validator or StrictValidator(self.limits)
        # Upload checks run in worker processes when the validator can be sent to one.
        self.isolate = isolate and _picklable(self.validator)

    async def inspect(self, upload: Upload) -> tuple[DistFilename, Metadata, bytes]:
        """Every check that needs no store, all problems together, off the event loop."""
        args = (upload, self.limits, self.validator)
        if self.isolate:
            try:
                # cancellable: a client that hangs up stops its worker with it.
                found = await to_process.run_sync(inspect_upload, *args, cancellable=True)
            except BrokenWorkerProcess:
                raise InvalidUpload(
                    ["The upload could not be checked: its checker process died (out of memory?)."]
                ) from None
        else:
            found = await to_thread.run_sync(inspect_upload, *args)
        if found.problems:
            raise InvalidUpload(found.problems)
        assert found.dist is not None and found.metadata is not None
        return found.dist, found.metadata, found.raw_metadata

    def validate(self, path: Path) -> list[str]:
        """Every problem with a local distribution file, as an upload would report them."""
        try:
            dist = parse_dist_filename(path.name)
        except InvalidFilename as exc:
            return [str(exc)]
        extracted, problems = extract_metadata(path, dist, self.limits)
        problems += self.validator.validate(path, dist)
        if extracted is not None and extracted.metadata is not None:
            check_metadata(dist, extracted.metadata, {}, problems)
        return problems
