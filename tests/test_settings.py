"""The course's nbgrader steps are nbgrader's defaults with the course's put in.

cnnlab/grading/settings.py reads nbgrader's default lists instead of copying
them; these tests pin what it builds on, so that an nbgrader release that
moves or drops one of those steps fails here instead of grading without it.
"""

import pytest
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback

from cnnlab.grading import settings


def names(steps) -> list[str]:
    return [step if isinstance(step, str) else step.__name__ for step in steps]


def short(steps) -> list[str]:
    return [name.rsplit(".", 1)[-1] for name in names(steps)]


def test_release_is_nbgraders_with_widget_state_dropped_and_unfinished_cells_tagged():
    default = short(GenerateAssignment.class_traits()["preprocessors"].default())
    ours = short(settings.release_preprocessors())
    at = default.index("ClearOutput") + 1
    assert ours == [*default[:at], "ClearWidgetState", "TagUnfinishedCells", *default[at:]]
    # nbgrader saves the tests in the gradebook before it clears the hidden ones
    assert ours.index("SaveCells") < ours.index("ClearHiddenTests")


def test_autograde_is_nbgraders_with_the_sandboxed_execute():
    default = short(Autograde.class_traits()["autograde_preprocessors"].default())
    ours = short(settings.autograde_preprocessors())
    assert "Execute" in default
    assert ours == ["SandboxedExecute" if s == "Execute" else s for s in default]
    assert ours.index("SandboxedExecute") < ours.index("SaveAutoGrades")


def test_feedback_is_nbgraders_with_hidden_tests_removed():
    default = short(GenerateFeedback.class_traits()["preprocessors"].default())
    ours = short(settings.feedback_preprocessors())
    at = default.index("GetGrades") + 1
    assert ours == [*default[:at], "HideHiddenTests", "ClearHiddenTests", *default[at:]]


def test_a_step_missing_upstream_is_an_error_not_a_silent_change(monkeypatch):
    trait = Autograde.class_traits()["autograde_preprocessors"]
    monkeypatch.setattr(type(trait), "default", lambda self, obj=None: [], raising=True)
    with pytest.raises(LookupError, match="no Execute any more"):
        settings.autograde_preprocessors()


def test_the_course_settings_use_them(tmp_path):
    from cnnlab.grading.course import Course

    config = Course.find().config()
    assert short(config.Autograde.autograde_preprocessors) == short(
        settings.autograde_preprocessors()
    )
    assert short(config.GenerateAssignment.preprocessors) == short(settings.release_preprocessors())
