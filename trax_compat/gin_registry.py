"""Registers trax_compat's objects with gin under Trax's gin names, so that
Trax's gin configs (``train.model = @trax.models.TransformerLM``,
``multifactor.constant = 0.001``) parse and bind unchanged.

Which names Trax registers, and how, comes from ``gin_names.json`` (listed
from Trax's source by ``tests/testdata/generate_gin_names.py``). Each package
registers its own names when it is first imported (``register("trax.layers")``
at the end of ``trax_compat.layers``), as Trax's decorators do at import.

gin-config is optional (the ``[gin]`` extra): without it nothing happens, so
users who never use gin pay nothing and see no change. Registration never
replaces trax_compat's own objects; gin's wrappers are kept here, and
:func:`configurable` returns the wrapper for an object (what Trax's code gets
by calling its gin-decorated functions directly, e.g. trainer_lib's default
``lr.multifactor``).
"""

import functools
import importlib
import inspect
import json
import os
import sys

_REGISTERED = {}  # gin selector -> gin's wrapper
_WRAPPERS = {}  # id(trax_compat object) -> (object, gin's wrapper)


def gin_or_none():
    try:
        import gin  # pylint: disable=g-import-not-at-top
    except ImportError:
        return None
    return gin


@functools.lru_cache(maxsize=None)
def trax_configurables():
    """Trax's gin configurables: dicts with ``module``, ``name``, ``trax``
    (the Trax name users reach the object by), ``denylist``, ``allowlist``."""
    path = os.path.join(os.path.dirname(__file__), "gin_names.json")
    with open(path, encoding="utf-8") as f:
        return tuple(json.load(f)["configurables"])


def ours(trax_name):
    """trax_compat's object for the Trax name ``trax.a.b.X``, or None."""
    module_name, _, attr = trax_name.rpartition(".")
    try:
        module = importlib.import_module("trax_compat" + module_name[4:])
        return getattr(module, attr)
    except (ImportError, AttributeError):
        return None


def _parameters(obj):
    try:
        target = obj.__init__ if inspect.isclass(obj) else obj
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None


def register(trax_prefix):
    """Registers, under Trax's gin names, every configurable whose Trax
    name is under ``trax_prefix`` and that trax_compat has; a no-op without
    gin, and for names already registered."""
    gin = gin_or_none()
    if gin is None:
        return
    for entry in trax_configurables():
        if not entry["trax"].startswith(trax_prefix + "."):
            continue
        selector = f"{entry['module']}.{entry['name']}"
        if selector in _REGISTERED:
            continue
        obj = ours(entry["trax"])
        if obj is None or not callable(obj):
            continue
        params = _parameters(obj)
        # A Trax argument our signature lacks would make gin refuse the
        # whole registration; the others still apply.
        denylist = [p for p in entry["denylist"]
                    if params is None or p in params] or None
        allowlist = [p for p in entry["allowlist"]
                     if params is None or p in params] or None
        try:
            wrapper = gin.external_configurable(
                obj, name=entry["name"], module=entry["module"],
                denylist=denylist, allowlist=allowlist)
        except ValueError:
            continue  # gin has this selector already (e.g. a reload)
        _REGISTERED[selector] = wrapper
        _WRAPPERS[id(obj)] = (obj, wrapper)


def configurable(obj):
    """gin's wrapper for ``obj`` (bindings applied when called) if ``obj``
    is registered, else ``obj`` itself."""
    held = _WRAPPERS.get(id(obj))
    return held[1] if held is not None and held[0] is obj else obj


def registered(selector, default=None):
    """gin's wrapper registered under the full ``selector`` (``module.name``),
    or ``default``: for an object registered under two Trax names, the one
    a particular Trax module's own calls get."""
    return _REGISTERED.get(selector, default)


def missing_configurable(selector):
    """The Trax name of a Trax configurable matching ``selector``
    (``TransformerLM``, ``trax.models.TransformerLM``) that trax_compat does
    not have, or None."""
    for entry in trax_configurables():
        full = f"{entry['module']}.{entry['name']}"
        if (full == selector or full.endswith("." + selector)) and (
                ours(entry["trax"]) is None):
            return entry["trax"]
    return None


def operative_config():
    """gin's operative config (what the run's configurables were called
    with), or "" when gin was never imported: then nothing was configured."""
    if sys.modules.get("gin") is None:
        return ""
    return sys.modules["gin"].operative_config_str()
