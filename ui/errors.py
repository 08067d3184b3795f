"""The app's one error boundary for the database: a lost, locked or emptied database shows one clear message
(services.db.explain_error) instead of a stack trace; the traceback goes to the server log."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import streamlit as st

from services import db
from services.config import database_url

log = logging.getLogger(__name__)


@contextmanager
def database_errors() -> Iterator[None]:
    try:
        yield
    except (sa.exc.SQLAlchemyError, db.DatabaseUnavailable) as exc:
        log.warning("database error on a page", exc_info=exc)
        st.error(db.explain_error(exc, database_url()), icon=":material/database:")
        st.stop()
