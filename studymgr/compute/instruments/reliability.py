"""Reliability of instrument scales: Cronbach's alpha on reverse-keyed items."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from studymgr.compute.instruments.schema import _fmt
from studymgr.compute.instruments.scoring import Instrument
from studymgr.errors import InputError


def cronbach_alpha(
    items_df: pd.DataFrame,
    instrument: Instrument,
    scale: str,
    *,
    nan_policy: Literal["listwise", "pairwise"] = "listwise",
    ci: float = 0.95,
) -> dict[str, Any]:
    """Cronbach's alpha of a scale, on reverse-keyed items (via ``pingouin.cronbach_alpha``).

    Parameters
    ----------
    items_df : pandas.DataFrame
        One row per response, one numeric column per item, named by item id (``1`` and ``"1"``
        both match item ``"1"``); missing values as NaN. Other columns are ignored.
    instrument : Instrument
        The instrument whose key (reverse items, scale membership) applies.
    scale : str
        Scale id; for a derived scale, the items of its source (alpha is unchanged by a linear
        transform).
    nan_policy : {"listwise", "pairwise"}
        ``"listwise"`` (default): drop responses with any missing item of the scale, as
        R ``psych::alpha(use="complete.obs")``; ``"pairwise"``: item covariances from all
        pairwise-complete responses. Responses with no item answered are always dropped.
    ci : float
        Confidence level of Feldt's interval (pingouin rounds its bounds to 3 decimals).

    Returns
    -------
    dict
        ``instrument``, ``scale``, ``alpha``, ``ci_low``, ``ci_high``, ``ci_level``, ``n``
        (responses used), ``k`` (items), ``nan_policy``.

    Raises
    ------
    InputError
        Unknown scale, missing or non-numeric item columns, values not allowed for an item,
        fewer than 2 items or usable responses, or a total score with no variance.
    """
    import pingouin  # heavy import, only needed here

    sc = instrument.scale(scale)
    if nan_policy not in ("listwise", "pairwise"):
        raise InputError(f"nan_policy must be 'listwise' or 'pairwise', not {nan_policy!r}")
    if not isinstance(items_df, pd.DataFrame):
        raise InputError(f"items_df must be a pandas DataFrame, not {type(items_df).__name__}")
    columns = {str(c): c for c in items_df.columns}
    absent = [i for i in sc.items if i not in columns]
    if absent:
        raise InputError(
            f"{instrument.name}: items_df has no column for item(s) {', '.join(absent)} of "
            f"scale '{scale}'; name the columns by item id"
        )
    data = pd.DataFrame(index=items_df.index)
    for iid in sc.items:
        item = instrument.item(iid)
        try:
            col = pd.to_numeric(items_df[columns[iid]], errors="raise").astype(float)
        except (TypeError, ValueError):
            raise InputError(
                f"{instrument.name}: column of item '{iid}' is not numeric; turn missing "
                "codes into NaN first"
            ) from None
        answered = col.dropna()
        bad = [x for x in answered.unique() if item._out_of_range(x) or item._snap(x) is None]
        if bad:
            raise InputError(
                f"{instrument.name}: item '{iid}' has value {_fmt(bad[0])}, not allowed; "
                f"allowed {item.describe()}"
            )
        data[iid] = item.min + item.max - col if item.reverse else col
    data = data.dropna(how="all")
    if nan_policy == "listwise":
        # Drop here, not in pingouin: it would keep the pre-deletion n for the interval.
        data = data.dropna(how="any")
    n, k = data.shape
    if k < 2:
        raise InputError(
            f"{instrument.name}: scale '{scale}' has {k} item; alpha needs at least 2 items"
        )
    if n < 2:
        raise InputError(
            f"{instrument.name}: scale '{scale}' has {n} usable response(s) ({nan_policy}); "
            "alpha needs at least 2"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha, bounds = pingouin.cronbach_alpha(data, nan_policy=nan_policy, ci=ci)
    if not np.isfinite(alpha):
        raise InputError(
            f"{instrument.name}: alpha of scale '{scale}' is undefined: the items do not vary "
            "across responses"
        )
    return {
        "instrument": instrument.name,
        "scale": scale,
        "alpha": float(alpha),
        "ci_low": float(bounds[0]),
        "ci_high": float(bounds[1]),
        "ci_level": float(ci),
        "n": int(n),
        "k": int(k),
        "nan_policy": nan_policy,
    }
