"""Checking a call's arguments against a function's signature, before anything is submitted.

``.remote(...)`` with arguments that don't fit raises TypeError in the caller,
as the call itself would in the worker, but before any work is queued (Ray
does the same). A ``CallShape`` is the signature reduced to what binding needs,
small enough to travel with an actor handle (``to_wire``), and checked with
Python's own binding rules: positional arguments fill positional parameters in
order, extras go to ``*args``; keywords go to the parameters of that name, or
to ``**kwargs``; a required parameter left unfilled is missing.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

_POSITIONAL_ONLY = 0
_POSITIONAL_OR_KEYWORD = 1
_KEYWORD_ONLY = 3


class CallShape:
    """What binding a call to one function needs to know of its signature."""

    __slots__ = ("params", "var_args", "var_kwargs", "max_positional", "min_positional", "required_keywords")

    def __init__(self, params: list, var_args: bool, var_kwargs: bool) -> None:
        self.params = params  # [(name, kind, has_default)] for named parameters, in order
        self.var_args = var_args
        self.var_kwargs = var_kwargs
        positional = [p for p in params if p[1] in (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)]
        self.max_positional = None if var_args else len(positional)
        # With no keywords, the first parameters up to the last required positional one must be given.
        self.min_positional = max((i + 1 for i, p in enumerate(positional) if not p[2]), default=0)
        self.required_keywords = any(p[1] == _KEYWORD_ONLY and not p[2] for p in params)

    @classmethod
    def of(cls, fn: Callable, skip_first: bool = False) -> CallShape | None:
        """The shape of ``fn``'s signature (``skip_first``: a method's ``self``); None when
        Python can't tell it (some builtins), in which case calls are not checked."""
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        params, var_args, var_kwargs = [], False, False
        for p in list(sig.parameters.values())[1 if skip_first else 0:]:
            if p.kind == p.VAR_POSITIONAL:
                var_args = True
            elif p.kind == p.VAR_KEYWORD:
                var_kwargs = True
            else:
                params.append((p.name, int(p.kind), p.default is not p.empty))
        return cls(params, var_args, var_kwargs)

    def to_wire(self) -> list:
        return [self.params, self.var_args, self.var_kwargs]

    @classmethod
    def from_wire(cls, data: list | None) -> CallShape | None:
        if data is None:
            return None
        params, var_args, var_kwargs = data
        return cls([tuple(p) for p in params], var_args, var_kwargs)

    def problem(self, num_args: int, keywords: Any) -> str | None:
        """Why a call with ``num_args`` positional arguments and these keyword names would
        not bind, or None if it would."""
        if not keywords:  # the common case, checked in a few comparisons
            if self.max_positional is not None and num_args > self.max_positional:
                return f"takes {self.max_positional} positional argument(s) but {num_args} were given"
            if num_args >= self.min_positional and not self.required_keywords:
                return None
        positional = [p for p in self.params if p[1] in (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)]
        if self.max_positional is not None and num_args > self.max_positional:
            return f"takes {self.max_positional} positional argument(s) but {num_args} were given"
        filled = {p[0] for p in positional[:num_args]}
        by_name = {p[0]: p for p in self.params}
        for key in keywords:
            param = by_name.get(key)
            if param is None or param[1] == _POSITIONAL_ONLY:
                if not self.var_kwargs:
                    return f"got an unexpected keyword argument {key!r}"
            elif key in filled:
                return f"got multiple values for argument {key!r}"
            else:
                filled.add(key)
        missing = [p[0] for p in self.params if not p[2] and p[0] not in filled]
        if missing:
            return f"missing required argument(s) {', '.join(map(repr, missing))}"
        return None


def check_call(shape: CallShape | None, name: str, args: tuple, kwargs: dict) -> None:
    """Raise TypeError naming ``name.remote()`` if ``args``/``kwargs`` do not fit ``shape``."""
    if shape is None:
        return
    problem = shape.problem(len(args), kwargs)
    if problem is not None:
        raise TypeError(f"{name}.remote() {problem}; nothing was submitted")
