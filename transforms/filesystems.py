"""What kind of file system an fsspec URL reached, for the few decisions that depend on it
(a local file keeps its plain path as its id; only a local folder can be checked for write
access or take an exclusive lock). No Beam import: the light command-line tools use it too."""
from __future__ import annotations

import fsspec


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs`` is this machine's file system (fsspec names it file:// and local://)."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols
