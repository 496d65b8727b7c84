"""Write the hostile-input corpus into a folder (large files are generated, not committed).

    python tests/data/make_bad_inputs.py DIR

Every file is something a real inbox eventually receives; the pipeline must write each one
correctly or reject it with a reason, never crash, and never write outside --output.
"""
from __future__ import annotations

import codecs
import gzip
import os
import pathlib
import sys

TEXT = (
    "The city council approved the new budget on Tuesday after a long debate.\n\n"
    "Council members said the plan would fund two new schools and repair the old bridge.\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(range(256)) * 16

#: name -> what must happen: ("written", None) or ("rejected", error_type). None: either is fine.
EXPECTED: dict[str, tuple[str, str | None] | None] = {
    "empty.txt": ("rejected", "empty_file"),
    "whitespace.txt": ("rejected", "empty_file"),
    "image.txt": ("rejected", "binary_content"),
    "nul_inside.txt": None,
    "invalid_utf8.txt": ("written", None),
    "utf16_bom.txt": ("written", None),
    "cp1252.txt": ("written", None),
    "huge_single_line.txt": ("rejected", "too_large"),
    "bomb.txt.gz": ("rejected", "too_large"),
    "bad_date_header.txt": ("written", None),
    "traversal_date_header.txt": ("written", None),
    "spaced ünïcödé ..name.txt": ("written", None),
    "unreadable.txt": None,  # rejected for a normal user; root reads it anyway
}


def make(directory: pathlib.Path) -> dict[str, tuple[str, str | None] | None]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "empty.txt": b"",
        "whitespace.txt": b"  \n\t \r\n  ",
        "image.txt": PNG,
        "nul_inside.txt": TEXT.encode().replace(b"budget", b"bud\x00get"),
        "invalid_utf8.txt": TEXT.encode() + b"\xff\xfe broken \xc3\x28 bytes and caf\xe9.\n",
        "utf16_bom.txt": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        "cp1252.txt": ("Le conseil municipal a adopté le budget mardi, après un long débat sur les écoles.\n" * 3).encode("cp1252"),
        "bad_date_header.txt": (" date 2025-13-45 PARIS: " + TEXT).encode(),
        "traversal_date_header.txt": (" date ../../etc BERLIN: " + TEXT).encode(),
        "spaced ünïcödé ..name.txt": TEXT.encode(),
        "unreadable.txt": TEXT.encode(),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    with open(directory / "huge_single_line.txt", "wb") as f:
        chunk = b"word " * 200_000  # 1 MB, no newline anywhere
        for _ in range(50):
            f.write(chunk)
    with gzip.open(directory / "bomb.txt.gz", "wb", compresslevel=9) as f:
        chunk = b"a" * (1 << 20)
        for _ in range(200):  # 200 MB of 'a' in ~200 kB
            f.write(chunk)
    os.chmod(directory / "unreadable.txt", 0)
    loop = directory / "loop"
    if not loop.is_symlink():
        loop.symlink_to(".", target_is_directory=True)  # a directory that contains itself
    return EXPECTED


if __name__ == "__main__":
    make(pathlib.Path(sys.argv[1]))
