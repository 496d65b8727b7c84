"""User data files (rule packs, taxonomies, alias lists): read once at start, errors that name the file."""
from __future__ import annotations

from typing import Any

import fsspec
import yaml

from transforms.errors import DataFileError


def read_text(url: str) -> str:
    try:
        with fsspec.open(url, "r", encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise DataFileError(f"{url}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{url}: is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{url}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ImportError as exc:  # fsspec: "Install s3fs to access S3" and the like
        raise DataFileError(f"{url}: {exc}") from None


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataFileError(f"{source}: YAML syntax error{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise DataFileError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def read_yaml(url: str) -> Any:
    return parse_yaml(read_text(url), url)
