"""AppTest for the forecast page, against a small demo company with the forecast trained once."""
from __future__ import annotations


def test_forecast_page_shows_company_figures(trained_db_url, run_app):
    at = run_app("pages/forecast.py")
    assert at.title[0].value == "Forecast"
    labels = [m.label for m in at.metric]
    assert {"Quota", "Commit", "Forecast P50", "Closed won", "Gap to commit", "Pipeline coverage"} <= set(labels)
    p50 = next(m for m in at.metric if m.label == "Forecast P50")
    assert p50.value.startswith("$") and p50.value != "$0"
    assert len(at.dataframe) >= 4  # team, by product, ending ARR, deals
    assert "Ending ARR" in [h.value for h in at.subheader]
    assert not any("No ending-ARR forecast" in c.value for c in at.caption)
    headline = [i.value for i in at.info if "backtest" in i.value]
    assert headline and "this forecast has been within" in headline[0], headline  # its own track record
    at.segmented_control(key="fc_quarter").set_value(at.segmented_control(key="fc_quarter").options[1]).run()
    assert not at.exception
    assert any("Forecasting next quarter" in i.value and "bias" in i.value for i in at.info)


def test_drill_down_and_save_commit(trained_db_url, run_app):
    from services import db
    from services.forecast import read as fc

    at = run_app("pages/forecast.py")
    drill = at.selectbox(key="fc_drill")
    first_child = drill.options[1]
    drill.select_index(1).run()
    assert not at.exception
    assert at.session_state["scope_region"] is not None
    at.number_input(key="fc_commit_amount").set_value(1234000.0)
    at.text_input(key="fc_commit_note").input("from the test")
    at.button[0].click().run()
    assert not at.exception
    saved = fc.commits(db.get_engine(trained_db_url))
    row = saved[saved.source == "app"]
    assert len(row) == 1 and row.amount_usd.iloc[0] == 1234000.0 and row.note.iloc[0] == "from the test"
    assert first_child
