"""What the tests of the checks ask of a message that names a mistake."""


def names_mistake(message: str, name: str) -> bool:
    """Whether ``message`` names the mistake ``name`` (or starts with it).

    Either as the likely mistake, or as the other mistake that gives exactly
    the same values on the case shown ("Or: ..."), as happens when two
    mistakes coincide on a small worked case.
    """
    return f"Likely mistake: {name}" in message or f"Or: {name}" in message
