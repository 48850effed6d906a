"""Registers trax_compat's objects with gin under Trax's gin names, so that
Trax's gin configs (``train.model = @trax.models.TransformerLM``,
``multifactor.constant = 0.001``) parse and bind unchanged.

Which names Trax registers, and how, comes from ``gin_names.json`` (listed
from Trax's source by ``tests/testdata/generate_gin_names.py``). Each package
registers its own names when it is first imported (``register("trax.layers")``
at the end of ``trax_compat.layers``), as Trax's decorators do at import.

gin-config is optional (the ``[gin]`` extra): without it nothing happens, so
users who never use gin pay nothing and see no change. With it, a name
reaches gin's wrapper exactly where Trax's does, so direct calls honour the
bindings as in Trax (``gin.parse_config('LayerNorm.epsilon = 0.5')`` then
``tl.LayerNorm()``):

* names Trax wraps in a package ``__init__`` (``layer_configure`` and its
  twins: ``how == "wrapper"``) become the wrapper at that one name
  (``trax_compat.layers.LayerNorm``); the defining module keeps the plain
  object (``trax_compat.layers.normalization.LayerNorm``), as in Trax;
* names Trax decorates where they are defined (``how == "decorator"``):
  functions become the wrapper in every trax_compat module that holds them,
  classes are decorated in place (their ``__init__`` applies the bindings).

Unlike gin's own wrapper classes, the exported classes keep ``isinstance``
and ``issubclass`` working against them (see :func:`_binding_class`).
"""

import functools
import importlib
import inspect
import json
import os
import sys

_REGISTERED = {}  # gin selector -> gin's wrapper
_WRAPPERS = {}  # id(trax_compat object) -> (object, gin's wrapper)
_PLAIN = {}  # id(exported wrapper) -> (wrapper, trax_compat's plain object)


def gin_or_none():
    try:
        import gin  # pylint: disable=g-import-not-at-top
    except ImportError:
        return None
    return gin


def external_configurable_in(module):
    """Trax's ``model_configure`` / ``opt_configure`` for ``module``:
    ``gin.external_configurable(fn, ...)`` with the gin module set to
    ``module``, so a user's own model or optimizer gets a Trax gin name
    (``trax.models.MyModel``). Needs gin."""

    def configure(*args, **kwargs):
        gin = gin_or_none()
        if gin is None:
            raise ImportError(
                f"Registering with gin under {module} needs gin-config: "
                f"pip install 'trax-compat[gin]'.")
        kwargs["module"] = module
        return gin.external_configurable(*args, **kwargs)

    return configure


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


def _binding_class(cls, wrapper):
    """A subclass of ``cls`` standing for gin's class ``wrapper``: calling
    it builds a ``cls`` with the bindings applied (as calling ``wrapper``
    does), and ``isinstance``/``issubclass`` against it answer as against
    ``cls`` (gin's wrapper answers False for the objects it builds). A
    user's subclass of it is an ordinary subclass of ``cls``."""

    class BindingMeta(type(cls)):
        def __call__(self, *args, **kwargs):
            if self is exported:
                return wrapper(*args, **kwargs)
            return super().__call__(*args, **kwargs)

        def __instancecheck__(self, instance):
            if self is exported:
                return isinstance(instance, cls)
            return super().__instancecheck__(instance)

        def __subclasscheck__(self, subclass):
            if self is exported:
                return issubclass(subclass, cls)
            return super().__subclasscheck__(subclass)

        @property
        def __signature__(self):
            return inspect.signature(cls) if self is exported else None

    attrs = {a: getattr(cls, a)
             for a in ("__module__", "__qualname__", "__doc__")}
    exported = BindingMeta(cls.__name__, (cls,), attrs)
    return exported


def _set_trax_name(trax_name, exported):
    """Makes ``exported`` what trax_compat's module for Trax's module of
    ``trax_name`` holds under that name."""
    module_name, _, attr = trax_name.rpartition(".")
    module = sys.modules.get("trax_compat" + module_name[4:])
    if module is not None:
        setattr(module, attr, exported)


def _replace_everywhere(replacements):
    """In every loaded trax_compat module, replaces each object that is a
    key of ``replacements`` (by id) with its value, as a decorator would
    have made it before any module imported it."""
    if not replacements:
        return
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "trax_compat"
                                  or name.startswith("trax_compat.")):
            continue
        namespace = getattr(module, "__dict__", None)
        if namespace is None:
            continue
        for attr, value in list(namespace.items()):
            held = replacements.get(id(value))
            if held is not None and held[0] is value:
                namespace[attr] = held[1]


def register(trax_prefix):
    """Registers, under Trax's gin names, every configurable whose Trax
    name is under ``trax_prefix`` and that trax_compat has, and exposes
    gin's wrapper where Trax does (see the module doc); a no-op without
    gin, and for names already registered."""
    gin = gin_or_none()
    if gin is None:
        return
    replacements = {}
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
        options = dict(module=entry["module"], denylist=denylist,
                       allowlist=allowlist)
        decorator = entry.get("how") == "decorator"
        try:
            if decorator and inspect.isclass(obj):
                # As Trax's @gin.configurable: the class itself applies
                # the bindings, wherever it is reached or subclassed.
                wrapper = exported = gin.configurable(entry["name"],
                                                       **options)(obj)
            else:
                wrapper = gin.external_configurable(obj, name=entry["name"],
                                                    **options)
                exported = (_binding_class(obj, wrapper)
                            if inspect.isclass(obj) else wrapper)
        except ValueError:
            continue  # gin has this selector already (e.g. a reload)
        _REGISTERED[selector] = wrapper
        _WRAPPERS[id(obj)] = (obj, wrapper)
        _WRAPPERS[id(exported)] = (exported, wrapper)
        if exported is not obj:
            _PLAIN[id(exported)] = (exported, obj)
        if exported is obj:
            continue
        if decorator:
            replacements[id(obj)] = (obj, exported)
        else:
            _set_trax_name(entry["trax"], exported)
    _replace_everywhere(replacements)


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


def unwrapped(obj):
    """trax_compat's plain object behind ``obj`` when ``obj`` is the name
    gin's wrapper was exported under (``trax_compat.layers.LayerNorm`` ->
    ``trax_compat.layers.normalization.LayerNorm``), else ``obj``."""
    held = _PLAIN.get(id(obj))
    while held is not None and held[0] is obj and held[1] is not obj:
        # A name Trax wraps twice (model_configure of a decorated function)
        # wraps a wrapper: follow the chain to the plain object.
        obj = held[1]
        held = _PLAIN.get(id(obj))
    return obj


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
