"""Helpers shared by the views that call domain services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError

T = TypeVar("T")


def call_with_form_errors(form: forms.Form, service: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run a service; put any ``ValidationError`` it raises onto ``form`` and return None.

    Fields the form does not have are reported as non-field errors, so no message is ever lost.
    """
    try:
        return service(*args, **kwargs)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc.messages)
        return None
