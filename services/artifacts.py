"""Model artifacts in a format that carries no code: JSON plus numpy arrays in one `.npz` file.

`joblib`/`pickle` files run whatever code their author put in them when they are loaded, so a model
artifact is never a pickle. `dumps(obj)` writes a JSON manifest (key `manifest`) and the numeric and text
arrays (`a0`, `a1`, ...) into an `.npz`; `loads(data)` reads it back with `allow_pickle=False`.

What the manifest may hold: plain values, lists, tuples, sets, dicts, numpy arrays, scalars and dtypes,
pandas frames, series and timestamps, LightGBM boosters (as LightGBM's own model text,
`Booster.model_to_string` / `Booster(model_str=...)`), and instances of classes from `ALLOWED_MODULES`
(scikit-learn, LightGBM and our `models` package), rebuilt from their state the way pickle would
(`cls.__new__` then `__setstate__`), but with no other callable reachable from the file. Anything else
is refused when saving (`TypeError`, naming where in the object it sits) and when loading
(`ArtifactError`).
"""
from __future__ import annotations

import collections
import importlib
import io
import json
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

ALLOWED_MODULES = ("sklearn", "lightgbm", "models")
FORMAT = "foresight-artifact/1"
# the only callables a file may name: the default factory of a stored defaultdict
FACTORIES = {f.__name__: f for f in (dict, list, set, int, float, collections.OrderedDict)}


class ArtifactError(ValueError):
    """An artifact that cannot or must not be loaded (the message says why and what to do)."""


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_MODULES)


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray, where: str) -> dict:
        if a.dtype.kind in "biufcmMUS":
            key = f"a{len(self.arrays)}"
            self.arrays[key] = np.ascontiguousarray(a)
            return {"t": "nd", "k": key}
        if a.dtype.kind == "O":
            return {"t": "ndo", "shape": list(a.shape),
                    "v": [self.enc(x, f"{where}[]") for x in a.ravel().tolist()]}
        raise TypeError(f"{where}: arrays of dtype {a.dtype} cannot be stored in an artifact")

    def enc(self, o: Any, where: str = "artifact") -> Any:  # one branch per storable kind
        if o is None or isinstance(o, bool | int | float | str) and not isinstance(o, np.generic):
            return o if not isinstance(o, float) or np.isfinite(o) else {"t": "float", "v": repr(o)}
        if isinstance(o, list | tuple | set | frozenset):
            kind = {list: "list", tuple: "tuple"}.get(type(o), "set")
            return {"t": kind, "v": [self.enc(x, f"{where}[{i}]") for i, x in enumerate(o)]}
        if type(o) in (dict, collections.OrderedDict, collections.defaultdict):
            out = {"t": "dict", "v": [[self.enc(k, where), self.enc(v, f"{where}.{k}")] for k, v in o.items()]}
            if type(o) is collections.OrderedDict:
                out["kind"] = "ordered"
            elif type(o) is collections.defaultdict:
                factory = getattr(o.default_factory, "__name__", None)
                if o.default_factory is not None and FACTORIES.get(factory) is not o.default_factory:
                    raise TypeError(f"{where}: a defaultdict of {o.default_factory!r} cannot be stored")
                out["kind"], out["factory"] = "default", factory
            return out
        if isinstance(o, slice):
            return {"t": "slice", "v": [self.enc(o.start), self.enc(o.stop), self.enc(o.step)]}
        if isinstance(o, np.ndarray):
            return self.array(o, where)
        if isinstance(o, np.generic):
            return {"t": "np", "dtype": o.dtype.str, "v": self.enc(o.item(), where)}
        if isinstance(o, np.dtype):
            return {"t": "dtype", "v": o.str}
        if isinstance(o, type) and issubclass(o, np.generic):
            return {"t": "nptype", "v": np.dtype(o).str}
        if isinstance(o, pd.Timestamp):
            return {"t": "ts", "v": o.isoformat()}
        if isinstance(o, pd.DataFrame):
            return {"t": "df", "columns": self.enc(list(o.columns), where), "index": self.enc(o.index, where),
                    "v": [self.array(np.asarray(o.iloc[:, i]), f"{where}.{c}") for i, c in enumerate(o.columns)]}
        if isinstance(o, pd.Series):
            return {"t": "series", "name": self.enc(o.name, where), "index": self.enc(o.index, where),
                    "v": self.array(o.to_numpy(), where)}
        if isinstance(o, pd.Index):
            return {"t": "index", "name": self.enc(o.name, where), "v": self.array(o.to_numpy(), where)}
        if isinstance(o, lgb.Booster):
            return {"t": "lgb", "v": o.model_to_string()}
        cls = type(o)
        if _allowed(cls.__module__) and hasattr(o, "__dict__"):
            state = o.__getstate__() if hasattr(o, "__getstate__") else o.__dict__
            if not isinstance(state, dict):
                raise TypeError(f"{where}: {cls.__module__}.{cls.__qualname__} has no dict state to store")
            return {"t": "obj", "cls": f"{cls.__module__}:{cls.__qualname__}", "v": self.enc(state, where)}
        raise TypeError(f"{where}: a {cls.__module__}.{cls.__qualname__} cannot be stored in an artifact "
                        f"(allowed: plain values, numpy, pandas frames, LightGBM boosters, classes from "
                        f"{', '.join(ALLOWED_MODULES)})")


def dumps(obj: Any) -> bytes:
    """The artifact file's bytes for `obj` (raises TypeError for anything that could not be stored code-free)."""
    w = _Writer()
    manifest = json.dumps({"format": FORMAT, "root": w.enc(obj)}, allow_nan=False).encode()
    buf = io.BytesIO()
    np.savez(buf, manifest=np.frombuffer(manifest, dtype=np.uint8), **w.arrays)
    return buf.getvalue()


def _class(name: str) -> type:
    module, _, qual = name.partition(":")
    if not _allowed(module):
        raise ArtifactError(f"the artifact names class {name!r}, outside the allowed packages; refusing to load it")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ArtifactError(f"the artifact names {name!r}, which is not a class; refusing to load it")
    return obj


class _Reader:
    def __init__(self, arrays: Any) -> None:
        self.arrays = arrays

    def dec(self, o: Any) -> Any:  # one branch per storable kind
        if o is None or isinstance(o, bool | int | float | str):
            return o
        if not isinstance(o, dict) or "t" not in o:
            raise ArtifactError("the artifact's manifest is malformed")
        t, v = o["t"], o.get("v")
        if t == "float":
            return float(v) if v in ("inf", "-inf", "nan") else _bad(t)
        if t in ("list", "tuple", "set"):
            items = [self.dec(x) for x in v]
            return {"list": list, "tuple": tuple, "set": set}[t](items)
        if t == "dict":
            items = [(self.dec(k), self.dec(x)) for k, x in v]
            if o.get("kind") == "ordered":
                return collections.OrderedDict(items)
            if o.get("kind") == "default":
                factory = o.get("factory")
                if factory is not None and factory not in FACTORIES:
                    raise ArtifactError(f"the artifact names a defaultdict factory {factory!r}; refusing to load it")
                return collections.defaultdict(FACTORIES.get(factory), items)
            return dict(items)
        if t == "slice":
            return slice(*(self.dec(x) for x in v))
        if t == "nd":
            return self.arrays[o["k"]]
        if t == "ndo":
            out = np.empty(len(v), dtype=object)
            out[:] = [self.dec(x) for x in v]
            return out.reshape(o["shape"])
        if t == "np":
            return np.dtype(o["dtype"]).type(self.dec(v))
        if t == "dtype":
            return np.dtype(v)
        if t == "nptype":
            return np.dtype(v).type
        if t == "ts":
            return pd.Timestamp(v)
        if t == "df":
            cols = self.dec(o["columns"])
            frame = pd.DataFrame({i: self.dec(c) for i, c in enumerate(v)}, index=self.dec(o["index"]))
            frame.columns = cols
            return frame
        if t == "series":
            return pd.Series(self.dec(v), index=self.dec(o["index"]), name=self.dec(o["name"]))
        if t == "index":
            return pd.Index(self.dec(v), name=self.dec(o["name"]))
        if t == "lgb":
            return lgb.Booster(model_str=v)
        if t == "obj":
            cls = _class(o["cls"])
            inst = cls.__new__(cls)
            state = self.dec(v)
            if hasattr(inst, "__setstate__"):
                inst.__setstate__(state)
            else:
                inst.__dict__.update(state)
            return inst
        return _bad(t)


def _bad(t: str) -> Any:
    raise ArtifactError(f"the artifact's manifest holds an unknown entry kind {t!r}")


def loads(data: bytes) -> Any:
    """The object stored by `dumps` (no pickle: object arrays and unknown classes are refused)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"not a Foresight artifact (expected an .npz without pickled objects): {exc}") from None
    try:
        manifest = json.loads(arrays.pop("manifest").tobytes())
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"the artifact has no readable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"the artifact is not in format {FORMAT}")
    return _Reader(arrays).dec(manifest["root"])
