"""Streamlit-side helpers: caches, shared widgets and pure plotly chart builders."""
