"""Opening a study exactly as it is, to look at it (``studymgr check``).

:func:`~studymgr.store.open_store` upgrades an older schema (audited) and refuses a newer one:
right for working with a study, wrong for checking one, which must change nothing.
"""

from __future__ import annotations

import os
from typing import TypeVar

from studymgr._docs import fill_doc
from studymgr.store.study import Store, _open_study

S = TypeVar("S", bound=Store)


@fill_doc
def open_store_as_is(path: str | os.PathLike[str], *, user: str | None = None,
                     data_dir: str | os.PathLike[str] | None = None,
                     factory: type[S] = Store,  # type: ignore[assignment]
                     damaged_hint: str = "") -> S:
    """Open a study exactly as it is: an older (or newer) schema is neither upgraded nor refused.

    For looking at a study that may be damaged (``studymgr check``);
    :func:`~studymgr.store.open_store` is the way to open a study to work with it.

    Parameters
    ----------
    path : path-like
        The study database.
    user : str | None
        Who opens it (default ``$STUDYMGR_USER`` or the OS login name).
    data_dir : path-like | None
        Use this data folder instead of the stored one.
    %(store_factory)s
    damaged_hint : str
        What to do about a damaged file, appended to the error message.

    Raises
    ------
    NotFoundError, InputError
        No such file, not SQLite, not a study, or so damaged that it cannot be opened.
    """
    return _open_study(path, user=user, data_dir=data_dir, factory=factory, upgrade=None,
                       damaged_hint=damaged_hint)
