"""The output formats' names a user may give (ProRes profiles, EXR compressions), checked
without loading any codec library: settings are parsed before any media is touched."""
from __future__ import annotations

from paicli.errors import UsageError

# ProRes profile name -> (prores_ks profile number, FourCC, 4:4:4)
PRORES_PROFILES = {
    "proxy": (0, "apco", False),
    "lt": (1, "apcs", False),
    "422": (2, "apcn", False),
    "hq": (3, "apch", False),
    "4444": (4, "ap4h", True),
    "4444xq": (5, "ap4x", True),
}
_ALIASES = {"standard": "422", "4444-xq": "4444xq", "xq": "4444xq", "422hq": "hq", "422lt": "lt"}

EXR_COMPRESSIONS = ("none", "zip", "zips", "piz", "dwaa", "dwab", "rle")


def profile_name(name: str) -> str:
    """A ProRes profile's canonical name (``standard`` -> ``422`` ...)."""
    key = name.strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in PRORES_PROFILES:
        raise UsageError(f"unknown ProRes profile {name!r} (choose from {', '.join(PRORES_PROFILES)})")
    return key


def exr_compression(value) -> str:
    """An EXR compression's name."""
    text = str(value).strip().lower()
    if text not in EXR_COMPRESSIONS:
        raise UsageError(f"unknown EXR compression {value!r} (choose from {', '.join(EXR_COMPRESSIONS)})")
    return text
