"""Built-in interventions beyond the paper. Each module uses only the public API
(``siscore.intervention``), as a user's own module would."""

from siscore.generate.interventions.builtin import (  # noqa: F401 - importing registers them
    background_blur,
    blend,
    flip,
    jpeg_quality,
    object_color,
    occluder,
)
