"""What every table of a model file shares: strict tables, names and finite numbers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: a DAG node or column name
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Strict(BaseModel):
    """A table of a model file: unknown keys, wrong types and changes after loading refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Name = Annotated[str, Field(pattern=NAME_PATTERN)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
