"""AppTest for the forecast page, against a small demo company with the forecast trained once."""
from __future__ import annotations


def test_forecast_page_shows_company_figures(trained_db_url, run_app):
    at = run_app("pages/forecast.py")
    assert at.title[0].value == "Forecast"
    labels = [m.label for m in at.metric]
    assert {"Quota", "Commit", "Forecast P50", "Closed won", "Forecast vs commit", "Pipeline coverage"} <= set(labels)
    p50 = next(m for m in at.metric if m.label == "Forecast P50")
    assert p50.value.startswith("$") and p50.value != "$0"
    assert len(at.dataframe) >= 4  # team, by product, ending ARR, deals
    assert "Ending ARR" in [h.value for h in at.subheader]
    assert not any("No ending-ARR forecast" in c.value for c in at.caption)
    assert any(c.value.startswith("Win in quarter:") and "the model's probability" in c.value for c in at.caption)
    headline = [i.value for i in at.info if "backtest" in i.value]
    assert headline and "this forecast has been within" in headline[0], headline  # its own track record
    at.segmented_control(key="fc_quarter").set_value(at.segmented_control(key="fc_quarter").options[1]).run()
    assert not at.exception
    assert any("Forecasting next quarter" in i.value and "bias" in i.value for i in at.info)


def test_drill_down_and_save_commit(trained_db_url, run_app):
    import pandas as pd

    from services import db
    from services.forecast import read as fc

    engine = db.get_engine(trained_db_url)
    at = run_app("pages/forecast.py")
    company_box = next(n for n in at.text_input if n.label.startswith("Commit for"))
    drill = at.selectbox(key="fc_drill")
    first_child = drill.options[1]
    drill.select_index(1).run()
    assert not at.exception
    assert at.session_state["scope_region"] is not None
    box = next(n for n in at.text_input if n.label.startswith("Commit for"))
    _, person, quarter = box.key.split(":")
    names = dict(db.read_table("people", engine, columns=["person_id", "name"]).values)
    assert names[person] == first_child and box.key != company_box.key
    own = fc.figures(engine, fc.nodes_at(engine), [person], quarter).iloc[0]
    expected = own.commit_usd if pd.notna(own.commit_usd) else float(round(own.p50_usd, -3))
    # this node's number, not the company's, with thousands separators
    assert box.value == f"{expected:,.0f}", (box.value, expected, company_box.value)
    box.input("$1,234,000")
    next(t for t in at.text_input if t.label == "Note").input("from the test")
    at.button[0].click().run()
    assert not at.exception
    saved = fc.commits(engine)
    row = saved[saved.source == "app"]
    assert len(row) == 1 and row.amount_usd.iloc[0] == 1234000.0 and row.note.iloc[0] == "from the test"
    assert row.person_id.iloc[0] == person
    tile = next(m for m in at.metric if m.label == "Commit")
    assert tile.value == "$1.2M", tile.value  # the tile reads the new commit on the same click
    assert any("Saved commit $1,234,000" in s.value for s in at.success)
    box = next(n for n in at.text_input if n.label.startswith("Commit for"))
    assert box.value == "1,234,000"
    box.input("about a million")  # bad input: a clear message, nothing saved
    at.button[0].click().run()
    assert any("Not saved" in e.value and "is not an amount" in e.value for e in at.error)
    assert len(fc.commits(engine).query("source == 'app'")) == 1
