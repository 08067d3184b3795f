"""Activate a model version or roll back, on the model-health page; drawn only for admins and data owners."""
from __future__ import annotations

import streamlit as st

from services import model_control, registry
from ui import auth, data


def version_controls(model: str) -> None:
    """Buttons to activate one of `model`'s versions or roll back to the previous active one."""
    if not auth.can("manage_models"):
        return
    engine = data.engine()
    versions = registry.versions(engine, model)
    inactive = versions.loc[versions.status != "active", "version"].tolist()
    with st.container(border=True):
        st.markdown("**Change the active version** (recorded in the audit log)")
        left, right = st.columns(2)
        chosen = left.selectbox("Version", inactive, key=f"mc_version_{model}", index=None,
                                placeholder="Choose a version")
        try:
            if left.button("Activate", key=f"mc_activate_{model}", disabled=chosen is None):
                model_control.activate(engine, auth.current_principal(), chosen)
                st.cache_data.clear()
                st.success(f"{chosen} is now the active {model} version.")
            if right.button("Roll back", key=f"mc_rollback_{model}"):
                back = model_control.rollback(engine, auth.current_principal(), model)
                st.cache_data.clear()
                st.success(f"Rolled {model} back to {back}.")
        except (LookupError, ValueError) as exc:
            st.error(str(exc), icon=":material/error:")
