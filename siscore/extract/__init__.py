"""Build foreground libraries from OpenImages masks, COCO annotations or boxes (GrabCut).

The output folder is a library ``siscore build --foregrounds`` takes directly::

    from siscore.extract import extract_openimages
    result = extract_openimages("validation-annotations-object-segmentation.csv",
                                "validation-annotations-bbox.csv",
                                "class-descriptions-boxable.csv",
                                images="validation/", masks="masks/", out="fg/")
    print(result.summary())

Stages, one module each: ``tables``/``classes`` (read the inputs, choose the
classes), ``openimages``/``coco``/``boxes`` (candidates), ``masks`` (mask I/O
and cleaning), ``gates`` (quality gates), ``worker`` (pixels -> PNG),
``writer`` (journal and final CSVs), ``run`` (parallel driver), ``report``.
"""

from siscore.extract.api import extract_boxes, extract_coco, extract_openimages
from siscore.extract.gates import Gates
from siscore.extract.masks import Cleaning
from siscore.extract.records import COLUMNS, MANIFEST_COLUMNS, REASONS, ExtractError
from siscore.extract.report import ExtractResult

__all__ = [
    "COLUMNS",
    "MANIFEST_COLUMNS",
    "REASONS",
    "Cleaning",
    "ExtractError",
    "ExtractResult",
    "Gates",
    "extract_boxes",
    "extract_coco",
    "extract_openimages",
]
