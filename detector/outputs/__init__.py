"""What a result becomes for people: words (``presentation``, ``model_facts``), a chart (``charts``), files
(``export``: JSON and CSV; ``report`` with ``report_html`` and ``report_pdf``), an annotated video
(``annotate``), where the model looked (``explain``) and whether the verdict survives re-encoding
(``stability``).
"""
