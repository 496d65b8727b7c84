"""Park a PCollection in files and read it back later, so a step can wait for a side input (or
`WaitOn` a barrier) without the runner holding every element in memory meanwhile.

A single-process runner keeps any PCollection that waits for another in memory; a distributed
runner shuffles it to disk. `SpillToFiles` writes the elements as they come (one file per bundle
and window, length-prefixed pickles) and passes on only the files' paths, which are small;
`ReadSpilled` streams the elements back, each in the window of its file (with that window's
end as timestamp: the elements' own timestamps are not kept). A file's path is emitted only
once the file is closed, so a failed bundle's half-written file is never read.
"""
from __future__ import annotations

import pickle
import posixpath
import struct
import uuid
from typing import Any, BinaryIO, Iterator

import apache_beam as beam
import fsspec
from apache_beam.utils.windowed_value import WindowedValue

#: Where a run parks elements, under its staging folder (never published; deleted with it).
SPILL_DIR = "_spill"
_LENGTH = struct.Struct(">Q")


class _SpillFn(beam.DoFn):
    def __init__(self, folder: str):
        self._folder = folder

    def setup(self) -> None:
        self._fs, self._root = fsspec.core.url_to_fs(self._folder)

    def start_bundle(self) -> None:
        self.teardown()  # a failed bundle's files: closed, never passed on
        self._open: dict[Any, tuple[str, BinaryIO]] = {}

    def process(self, element: Any, window=beam.DoFn.WindowParam) -> None:
        if window not in self._open:
            path = posixpath.join(self._root, f"{uuid.uuid4().hex}.spill")
            self._fs.makedirs(self._root, exist_ok=True)
            self._open[window] = (path, self._fs.open(path, "wb"))
        data = pickle.dumps(element, protocol=pickle.HIGHEST_PROTOCOL)
        out = self._open[window][1]
        out.write(_LENGTH.pack(len(data)))
        out.write(data)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for window, (path, out) in self._open.items():
            out.close()
            yield WindowedValue(self._fs.unstrip_protocol(path), window.max_timestamp(), [window])
        self._open = {}

    def teardown(self) -> None:
        for _, out in getattr(self, "_open", {}).values():
            out.close()
        self._open = {}


def read_spilled(path: str) -> Iterator[Any]:
    with fsspec.open(path, "rb") as f:
        while header := f.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(header)
            yield pickle.loads(f.read(size))


class SpillToFiles(beam.PTransform):
    """Elements -> the paths of the files under ``folder`` that hold them."""

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder

    def expand(self, elements):
        return elements | "Spill" >> beam.ParDo(_SpillFn(self._folder))


class ReadSpilled(beam.PTransform):
    """Paths from `SpillToFiles` -> the elements, in their files' windows."""

    def expand(self, paths):
        return paths | "Unspill" >> beam.FlatMap(read_spilled)
