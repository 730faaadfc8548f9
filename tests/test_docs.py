"""Shared docstring text (studymgr._docs): the fill_doc decorator, and no placeholder left unfilled
anywhere in the package after import (every module is imported and every docstring read)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import pytest

import studymgr
from studymgr._docs import docdict, fill_doc


def test_fill_doc_indents_entries_like_the_placeholder():
    @fill_doc
    def f():
        """Do it.

        Parameters
        ----------
        %(study)s
        %(force)s
        """

    lines = f.__doc__.splitlines()
    assert lines[4:8] == ["        study : Study", "            The open study.",
                          "        force : bool",
                          "            Recompute sessions whose results are up to date."]


def test_fill_doc_refuses_unknown_entries_and_leaves_other_docstrings_alone():
    with pytest.raises(KeyError, match="no_such_entry"):
        @fill_doc
        def f():
            """%(no_such_entry)s"""

    def g():
        """Logging format %(name)s inside a line is not an entry."""

    def h():  # no docstring at all
        return None

    assert fill_doc(g).__doc__ == "Logging format %(name)s inside a line is not an entry."
    assert fill_doc(h).__doc__ is None


def test_entries_are_numpydoc_parameter_blocks():
    for name, text in docdict.items():
        first, *rest = text.strip("\n").splitlines()
        assert " : " in first or first.startswith("**"), name
        assert rest and all(line.startswith("    ") for line in rest if line), name


def _docstrings(module):
    """(qualified name, docstring) of the module and what it defines, methods included."""
    yield module.__name__, module.__doc__
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj.__doc__
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj.__doc__
            for attr, member in vars(obj).items():
                target = member.fget if isinstance(member, property) else member
                target = getattr(target, "__func__", target)
                if inspect.isfunction(target):
                    yield f"{module.__name__}.{name}.{attr}", target.__doc__


def test_no_placeholder_left_in_any_docstring():
    left, imported = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(studymgr.__path__, "studymgr."):
            if info.name.endswith("__main__"):
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError as exc:  # an optional dependency (e.g. dask) is not installed
                if exc.name and exc.name.split(".")[0] == "studymgr":
                    raise
                continue
            imported += 1
            if info.name != "studymgr._docs":  # it shows the placeholder syntax itself
                left += [name for name, doc in _docstrings(module) if doc and "%(" in doc]
    assert imported > 50
    assert left == []


def test_a_forgotten_fill_doc_is_caught():
    """The walk above sees module, function, class, method and property docstrings."""
    import types

    planted = types.ModuleType("studymgr._planted")
    code = '''
"""Module %(study)s."""
def f():
    """%(study)s"""
class C:
    """%(study)s"""
    def m(self):
        """%(study)s"""
    @property
    def p(self):
        """%(study)s"""
    @classmethod
    def c(cls):
        """%(study)s"""
'''
    exec(compile(code, "<planted>", "exec"), planted.__dict__)
    found = [name for name, doc in _docstrings(planted) if doc and "%(" in doc]
    assert found == ["studymgr._planted", "studymgr._planted.f", "studymgr._planted.C",
                     "studymgr._planted.C.m", "studymgr._planted.C.p", "studymgr._planted.C.c"]
