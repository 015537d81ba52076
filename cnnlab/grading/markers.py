"""nbgrader's region markers (``### BEGIN SOLUTION`` ...), read in one place.

The marker texts are nbgrader's settings (``ClearSolutions.begin_solution_delimeter``
and the others); :meth:`Markers.of` reads them from a course's configuration,
falling back on nbgrader's own defaults, and :func:`split` is the one reader
of a region in a cell's source.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT", "Markers", "split"]


def _default(app: str, trait: str) -> str:
    from nbgrader import preprocessors

    return getattr(preprocessors, app).class_traits()[trait].default()


@dataclass(frozen=True)
class Markers:
    """The texts that open and close solution and hidden-test regions."""

    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = "BEGIN HIDDEN TESTS"
    end_hidden: str = "END HIDDEN TESTS"

    @classmethod
    def of(cls, config=None) -> Markers:
        """The markers a course's nbgrader settings (a traitlets Config) use."""
        names = {
            "begin_solution": ("ClearSolutions", "begin_solution_delimeter"),
            "end_solution": ("ClearSolutions", "end_solution_delimeter"),
            "begin_hidden": ("ClearHiddenTests", "begin_test_delimeter"),
            "end_hidden": ("ClearHiddenTests", "end_test_delimeter"),
        }
        values = {}
        for field, (app, trait) in names.items():
            configured = config.get(app, {}).get(trait) if config is not None else None
            values[field] = configured or _default(app, trait)
        return cls(**values)

    @property
    def solution(self) -> tuple[str, str]:
        return self.begin_solution, self.end_solution

    @property
    def hidden(self) -> tuple[str, str]:
        return self.begin_hidden, self.end_hidden


def split(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """A cell's lines outside the ``begin`` ... ``end`` regions, and the lines inside.

    The marker lines count as inside (they go wherever the region goes).
    """
    outside, inside, within = [], [], False
    for line in source.split("\n"):
        if begin in line:
            within = True
        (inside if within else outside).append(line)
        if end in line:
            within = False
    return outside, inside


#: nbgrader's own markers, which the course keeps.
DEFAULT = Markers()
