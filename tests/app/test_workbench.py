"""AppTest for the workbench: open an account, edit a signal, switch to the adoption model."""
from __future__ import annotations


def metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def test_workbench_churn_whatif_changes_probability(trained_db_url, run_app):
    at = run_app("pages/workbench.py")
    assert at.title[0].value == "Workbench"
    assert not any("log-odds" in c.value for c in at.caption)  # business words unless asked
    at.toggle(key="wb_technical").set_value(True).run()
    assert any("log-odds" in c.value for c in at.caption)
    at.toggle(key="wb_technical").set_value(False).run()
    assert any(m.value.startswith("- ") for m in at.markdown)  # reasons lead, in sentences
    at.segmented_control(key="wb_view").set_value("What-if").run()
    # a medium-risk account: at the extremes a calibrated probability can round to the same figure
    subject = at.selectbox(key="wb_subject")
    medium = [label.split(" · ")[0] for label in subject.options if "medium" in label]
    if medium:
        subject.set_value(medium[0]).run()
    before = metric(at, "Churn probability (what-if)")
    delta = lambda: next(m for m in at.metric if m.label == "Churn probability (what-if)").delta
    assert delta() == "no change"  # not a red "+0.0 pts" before anything moved
    slider = next(s for s in at.slider if s.label.startswith(("Seat activation", "Volume use")))
    slider.set_value(1.0 if slider.value < 0.5 else 0.0).run()
    assert not at.exception
    assert metric(at, "Churn probability (what-if)") != before
    assert delta().endswith(" pts") and delta()[0] in "+-"
    at.button(key="wb_suggest").click().run()
    assert not at.exception and any("New probability" in m.value for m in at.markdown)


def test_workbench_adoption_shows_cluster_and_runner_up(trained_db_url, run_app):
    at = run_app("pages/workbench.py")
    at.selectbox(key="wb_model").set_value("adoption_margin").run()
    assert not at.exception
    assert metric(at, "Cluster") != metric(at, "Nearest other cluster")
    assert any("in the nearest healthy cluster" in m.value for m in at.markdown)
    at.toggle(key="wb_technical").set_value(True).run()
    assert len(at.get("plotly_chart")) >= 2  # the margin and the surrogate


def test_workbench_without_training_says_so(demo_db_url, run_app):
    at = run_app("pages/workbench.py")
    assert any("No explanations yet" in i.value for i in at.info)
