"""Progress bars for long fits (tqdm, an optional dependency)."""
from __future__ import annotations

from typing import Any


def make_bar(total: int, desc: str) -> Any:
    """A tqdm bar over `total` epochs; ImportError naming the extra when tqdm is missing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("progress=True needs tqdm: pip install 'fastgrad[progress]'") from None
    return tqdm(total=total, desc=desc, unit="epoch", leave=False)
