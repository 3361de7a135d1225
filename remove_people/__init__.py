"""remove-people: detect, refine and inpaint away the people in photos."""

__version__ = "0.1.0"
