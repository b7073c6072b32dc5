"""Reading a model file: bytes → TOML → :class:`~embedcausal.spec.ModelSpec`."""

from __future__ import annotations

import tomllib
from pathlib import Path

from embedcausal.errors import SpecError, one_line
from embedcausal.spec.model_spec import ModelSpec

#: largest model file read (a model file is a page of TOML)
MAX_FILE_BYTES = 1_000_000


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate a model file.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML model file. Relative paths inside it resolve against its directory.

    Returns
    -------
    ModelSpec

    Raises
    ------
    SpecError
        If the file is missing, is not valid TOML, or does not follow the schema documented in
        ``docs/model-files.md``; the message names the file, the key, the value and what was
        expected.
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(str(path), "", "is a directory; expected a .toml model file")
    if not p.is_file():
        raise SpecError(str(path), "", "model file not found; expected a path to a .toml file")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(
            str(path), "", f"cannot read the model file ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(
            str(path), "", f"larger than {MAX_FILE_BYTES} bytes; expected a TOML model file"
        )
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not content
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(
            str(path), "", "not a UTF-8 text file; expected a TOML model file"
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "", f"not valid TOML: {one_line(exc)}") from None
    except RecursionError:
        raise SpecError(
            str(path), "", "not valid TOML here: arrays or tables nested too deeply"
        ) from None
    return ModelSpec.from_dict(raw, source=str(path), base_dir=p.parent)
