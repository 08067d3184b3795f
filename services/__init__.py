"""Foresight services: database, data contract, import, simulator, features, CLI (no Streamlit here)."""
