"""The generator: assets -> plan -> compose -> write.

``factors`` (the grid and its factors), ``assets`` (foreground and background
libraries), ``plan`` (which image is which cell), ``geometry`` and ``compose``
(pure placement and compositing), ``saliency``, ``jpeg`` (tiled encoding),
``render`` (one image from a plan item), ``write`` (the dataset folder),
``build`` (the whole run, resumable and parallel), ``allocator`` (glibc tuning of
siscore's own build processes) and ``interventions`` (user-defined factors).
"""
