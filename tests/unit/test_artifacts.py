"""Model artifacts cannot run code: code-free format, loaded only from the artifact folder, hash checked."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.churn import ChurnClassifier
from services import artifacts, registry
from services.artifacts import ArtifactError


class _Payload:
    """Unpickling this runs `touch <marker>`: what an attacker's artifact would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def art_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "artifacts"
    monkeypatch.setattr(registry, "ARTIFACTS_DIR", d)
    return d


def _frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "plan": rng.choice(["basic", "pro"], size=n)})
    y = (X.a + (X.plan == "pro") + rng.normal(scale=0.5, size=n) > 0.5).astype(int).to_numpy()
    return X, y


def _register(engine, version: registry.Version) -> None:
    registry.record(engine, version, {}, {}, "active")


def test_round_trip_keeps_predictions() -> None:
    X, y = _frame()
    churn = ChurnClassifier(n_estimators=20, early_stopping_rounds=0).fit(X[:300], y[:300], X[300:], y[300:])
    lgbm = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X[["a", "b"]], y)
    pipe = make_pipeline(StandardScaler()).fit(X[["a", "b"]])
    obj = {"model": churn, "lgbm": lgbm, "pipe": pipe, "frame": X.head(), "when": pd.Timestamp("2024-01-31"),
           "tiers": (("high", 0.5), ("low", 0.0)), "k": np.int64(3), "inf": float("inf")}
    back = artifacts.loads(artifacts.dumps(obj))
    np.testing.assert_allclose(back["model"].predict_proba(X), churn.predict_proba(X))
    np.testing.assert_allclose(back["lgbm"].predict_proba(X[["a", "b"]]), lgbm.predict_proba(X[["a", "b"]]))
    np.testing.assert_allclose(back["pipe"].transform(X[["a", "b"]]), pipe.transform(X[["a", "b"]]))
    pd.testing.assert_frame_equal(back["frame"], X.head())
    assert back["when"] == obj["when"] and back["tiers"] == obj["tiers"] and back["k"] == 3
    assert back["inf"] == float("inf")


def test_things_that_would_carry_code_are_refused_when_saving() -> None:
    with pytest.raises(TypeError, match=r"artifact\.f: a builtins\.function"):
        artifacts.dumps({"f": lambda x: x})
    with pytest.raises(TypeError, match="defaultdict"):
        artifacts.dumps({"d": __import__("collections").defaultdict(os.getcwd)})


def test_the_file_is_an_npz_without_pickles(art_dir: Path, engine) -> None:
    v = registry.new_version("adoption", pd.Timestamp("2024-01-31"))
    registry.save_artifact(v, {"x": np.arange(3), "names": np.array(["a", None], dtype=object)})
    with np.load(v.artifact_path, allow_pickle=False) as npz:  # would raise on any pickled member
        assert "manifest" in npz.files
    _register(engine, v)
    back = registry.load_artifact(engine, "adoption")
    assert back["x"].tolist() == [0, 1, 2] and back["names"].tolist() == ["a", None]


def test_a_crafted_pickle_pointed_to_by_model_versions_never_runs(art_dir: Path, engine, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    v = registry.new_version("churn", pd.Timestamp("2024-01-31"))
    registry.save_artifact(v, {"ok": 1})
    _register(engine, v)
    t = registry._ensure_versions(engine)
    # 1) the row points at an absolute path elsewhere: never followed
    with engine.begin() as conn:
        conn.execute(t.update().values(artifact_path=str(evil)))
    assert registry.load_artifact(engine, "churn") == {"ok": 1}
    # 2) the file in the artifact folder is replaced: the recorded hash no longer matches
    v.artifact_path.write_bytes(evil.read_bytes())
    with pytest.raises(ArtifactError, match="does not match the hash recorded at training"):
        registry.load_artifact(engine, "churn")
    # 3) the attacker also rewrites the hash: the file is still never unpickled
    with engine.begin() as conn:
        conn.execute(t.update().values(artifact_sha256=hashlib.sha256(evil.read_bytes()).hexdigest()))
    with pytest.raises(ArtifactError, match="not a Foresight artifact"):
        registry.load_artifact(engine, "churn")
    # 4) a pickle hidden inside an npz (object array) is refused too
    buf = io.BytesIO()
    np.savez(buf, manifest=np.frombuffer(b'{"format": "foresight-artifact/1", "root": {"t": "nd", "k": "a0"}}',
                                         dtype=np.uint8), a0=np.array([_Payload(marker)], dtype=object))
    v.artifact_path.write_bytes(buf.getvalue())
    with engine.begin() as conn:
        conn.execute(t.update().values(artifact_sha256=hashlib.sha256(buf.getvalue()).hexdigest()))
    with pytest.raises(ArtifactError):
        registry.load_artifact(engine, "churn")
    # 5) a manifest naming a class outside the allowed packages
    manifest = b'{"format": "foresight-artifact/1", "root": {"t": "obj", "cls": "os:system", "v": {"t": "dict", "v": []}}}'
    buf = io.BytesIO()
    np.savez(buf, manifest=np.frombuffer(manifest, dtype=np.uint8))
    with pytest.raises(ArtifactError, match="outside the allowed packages"):
        artifacts.loads(buf.getvalue())
    assert not marker.exists()
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control)))  # the payload is live: unpickling it would have run it
    assert control.exists()


def test_a_version_name_cannot_escape_the_artifact_folder(art_dir: Path) -> None:
    for name in ("../../etc/passwd", "/tmp/x", "a/b", ".."):
        with pytest.raises(ArtifactError, match="refusing artifact name"):
            registry.artifact_file("churn", name)


def test_a_version_without_a_recorded_hash_is_refused_with_retrain_advice(art_dir: Path, engine) -> None:
    v = registry.new_version("churn", pd.Timestamp("2024-01-31"))
    registry.save_artifact(v, {"ok": 1})
    v.artifact_sha256 = None  # as recorded by a registry before content hashes
    _register(engine, v)
    with pytest.raises(ArtifactError, match="retrain with `python -m services.cli train`"):
        registry.load_artifact(engine, "churn")


def test_an_old_registry_gets_the_hash_column(tmp_path: Path) -> None:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE model_versions (version VARCHAR(80) PRIMARY KEY, model VARCHAR(40) NOT "
                             "NULL, created_at DATETIME NOT NULL, as_of DATE NOT NULL, code_version VARCHAR(40), "
                             "data_fingerprint TEXT, params TEXT, metrics TEXT, artifact_path TEXT, status "
                             "VARCHAR(20) NOT NULL, note TEXT)")
    assert "artifact_sha256" in registry.versions(eng).columns
