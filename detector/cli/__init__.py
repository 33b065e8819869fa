"""The command line, ``python -m detector COMMAND ...``: ``main`` (the parser and the entry point), ``user``
(the reviewer's ``scan``), ``archive`` (the operator's ``scan-archive``), ``training`` (train), ``developer``
(evaluate, calibrate, quantize, combine, ensembles, lite, score-crops), ``benchmark`` and ``common`` (what they
share).

Nothing is imported here: the commands import ``common``, which Python reaches through this package.
"""
