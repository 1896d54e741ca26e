"""Fast constructors for frozen slots dataclasses (the decoder's hot path builds many of them)."""
from __future__ import annotations

import dataclasses


def fast_constructor(cls):
    """A constructor for a frozen slots dataclass that writes the slots directly.

    Frozen dataclasses set every field through object.__setattr__, which costs ~0.15 us per field;
    writing through the slot descriptors halves event construction time. All fields are required
    arguments (no defaults), so a layout change in events.py fails loudly in the tests.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    ns = {"_new": object.__new__, "_cls": cls, **{f"_s_{n}": getattr(cls, n).__set__ for n in names}}
    src = (f"def make_{cls.__name__}({', '.join(names)}):\n    o = _new(_cls)\n"
           + "".join(f"    _s_{n}(o, {n})\n" for n in names) + "    return o\n")
    exec(src, ns)  # noqa: S102 - generated from dataclass field names only
    return ns[f"make_{cls.__name__}"]
