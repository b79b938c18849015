"""The one base of every JSON request body (and of the objects nested in one).

- Unknown keys are refused (422, ``extra_forbidden``, each one named in ``errors[]``): the document
  says ``additionalProperties: false``, so a typo (``frist_name``) or a privilege smuggled in
  (``role``) is seen at once instead of being silently dropped.
- Integer fields take JSON integers only: ``"5"`` or ``true`` are refused (``int_type``), as the
  document's ``type: integer`` says (``5.0`` is an integer for JSON Schema, so it is taken). Bodies are validated from parsed JSON (Python mode), where
  pydantic's lax mode would turn ``"5"`` into 5; a model-wide ``strict=True`` would also refuse the
  UUIDs, dates and enumerations that JSON can only carry as strings, so the rule is applied here to
  the fields typed ``int`` (or ``int | None``) only (not inside lists). Decimals (FCFA, kWh) keep accepting a number or
  a decimal string, as documented on their fields.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError


def _is_int_field(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_int_field(args[0])
    return False


def _json_integer(value: Any) -> Any:
    """JSON Schema's ``integer``: a number with no fractional part (``5`` or ``5.0``); never a string
    or a boolean, which pydantic's lax mode would turn into one."""
    if isinstance(value, (str, bytes, bool)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


_JSON_INTEGER = BeforeValidator(_json_integer)


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        loose = [
            name
            for name, field in cls.model_fields.items()
            if _is_int_field(field.annotation) and _JSON_INTEGER not in field.metadata
        ]
        for name in loose:
            cls.model_fields[name].metadata.append(_JSON_INTEGER)
        if loose:
            cls.model_rebuild(force=True)


__all__ = ["RequestBody"]
